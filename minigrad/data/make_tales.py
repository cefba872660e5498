"""Write ``tales.txt``: about 120 KB of short animal fables from a seeded grammar.

The text is the default corpus of ``demos/char_lstm.py``. It is made here rather than taken from
a book so that it ships with no licence question, and it has what a character-level model can
learn in minutes: a small vocabulary, words that recur, sentences with agreement ("the fox
was", "the foxes were"), quoted speech, punctuation and paragraphs, and long-range structure
(each fable names its animal in the title, the opening and the moral). Run it again to
regenerate the same file:

    python -m minigrad.data.make_tales
"""
import os
import random

ANIMALS = ["fox", "crow", "hare", "tortoise", "wolf", "lamb", "mouse", "lion", "ant",
           "grasshopper", "owl", "goat", "frog", "heron", "bear", "bee", "cat", "dog"]
PLURALS = {"fox": "foxes", "mouse": "mice", "wolf": "wolves", "goat": "goats"}
ADJECTIVES = ["old", "young", "clever", "proud", "hungry", "patient", "foolish", "little",
              "quiet", "busy", "greedy", "kind", "tired", "brave"]
PLACES = ["by the river", "at the edge of the wood", "on the hill", "in the meadow",
          "near the old well", "under the oak tree", "beside the mill", "in the valley"]
TIMES = ["One morning", "Long ago", "On a cold evening", "In the middle of summer",
         "At the first frost", "One windy day", "When the rain stopped"]
VERBS = ["found", "saw", "wanted", "carried", "hid", "guarded", "lost", "shared"]
THINGS = ["a piece of cheese", "a bunch of grapes", "a heap of grain", "a shining stone",
          "a jar of honey", "a warm burrow", "a basket of apples", "a bright feather"]
SAYINGS = ["Slow and steady wins the race", "Look before you leap",
           "A friend in need is a friend indeed", "Pride comes before a fall",
           "Work today and eat tomorrow", "Do not count your eggs before they hatch",
           "Little by little the jar is filled", "Kindness is never wasted"]
MOODS = ["laughed", "sighed", "smiled", "frowned", "shouted", "whispered"]


def plural(animal):
    return PLURALS.get(animal, animal + "s")


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def sentence_pair(rng, hero, other):
    """Two sentences about the hero meeting another animal, with a line of speech."""
    adjective = rng.choice(ADJECTIVES)
    thing = rng.choice(THINGS)
    mood = rng.choice(MOODS)
    if rng.random() < 0.3:
        many = plural(other)
        first = (f"The {hero} met some {adjective} {many} {rng.choice(PLACES)}, and the "
                 f"{many} were {rng.choice(ADJECTIVES)}.")
        speech = f'"Why do you work so hard?" the {hero} asked, and the {many} {mood}.'
    else:
        first = (f"The {hero} met {article(adjective)} {adjective} {other} "
                 f"{rng.choice(PLACES)}, and the {other} {rng.choice(VERBS)} {thing}.")
        speech = (f'"Give me {thing}," said the {hero}. The {other} {mood} and said, '
                  f'"{rng.choice(["Not today", "Only if you help me", "Come and take it", "I will share it"])}."')
    return first + " " + speech


def fable(rng):
    hero, other = rng.sample(ANIMALS, 2)
    adjective = rng.choice(ADJECTIVES)
    lines = [f"THE {adjective.upper()} {hero.upper()} AND THE {other.upper()}", ""]
    body = [f"{rng.choice(TIMES)}, {article(adjective)} {adjective} {hero} lived "
            f"{rng.choice(PLACES)}."]
    for _ in range(rng.randint(2, 4)):
        body.append(sentence_pair(rng, hero, rng.choice([other, rng.choice(ANIMALS)])))
    body.append(f"In the end the {hero} {rng.choice(VERBS)} {rng.choice(THINGS)} and went "
                f"home {rng.choice(PLACES)}.")
    lines.append(" ".join(body))
    lines += ["", f"Moral: {rng.choice(SAYINGS)}.", "", ""]
    return "\n".join(lines)


def make(size=120_000, seed=1):
    """Fables until the text has at least ``size`` characters."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        parts.append(fable(rng))
        total += len(parts[-1])
    return "".join(parts)


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tales.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(make())
    print(f"wrote {path}")
