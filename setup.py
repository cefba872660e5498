"""Installs the packages minigrad (engine), layers, optim and models.

    pip install -e ".[test]"      # with what the tests need
    pip install -e ".[gpu]"       # with CuPy for NVIDIA GPUs (CUDA 12)
    pip install -e ".[bench]"     # with PyTorch, the benchmarks' reference
    pip install -e ".[dev]"       # with the mutation-testing tool (see README, "Test strength")
    pip install -e ".[tools]"     # graph drawings, TensorBoard logs and safetensors files
    pip install -e ".[dist]"      # with MPI (mpi4py + the mpich wheel) for data-parallel training
    pip install -e ".[rl]"        # gymnasium's classic-control tasks for the RL demos
"""
from setuptools import find_packages, setup

setup(
    name="minigrad",
    version="0.1.0",
    description="A from-scratch reverse-mode autograd engine on NumPy and CuPy, with Numba "
                "kernels, layers, optimizers and models",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["minigrad", "minigrad.*", "layers", "layers.*", "optim",
                                    "optim.*", "models", "models.*"]),
    package_data={"minigrad.data": ["*.npz", "DIGITS_LICENSE", "*.txt"]},
    install_requires=["numpy>=1.24", "numba>=0.58", "tqdm", "matplotlib", "threadpoolctl"],
    extras_require={
        # gymnasium (pure Python, with pygame for rendering) so the RL tests run with the rest
        "test": ["pytest>=7", "hypothesis>=6.80", "pytest-cov>=4", "gymnasium[classic-control]"],
        "dev": ["pytest>=7", "hypothesis>=6.80", "pytest-cov>=4", "mutmut>=3.8,<3.9"],
        "gpu": ["cupy-cuda12x"],
        "bench": ["torch"],
        "tools": ["graphviz", "tensorboardX", "safetensors"],
        "dist": ["mpi4py", "mpich"],
        "rl": ["gymnasium[classic-control]"],
    },
)
