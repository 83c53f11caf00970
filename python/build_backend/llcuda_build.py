"""A PEP 517 build backend for llcuda that needs only CMake and a compiler.

build_wheel() configures and builds the _llcuda extension with CMake (for the interpreter
running pip) and zips it with the package's Python files into a wheel. Set LLCUDA_CMAKE_ARGS
for extra CMake options (for example -DCMAKE_CUDA_ARCHITECTURES=90).
"""
import base64
import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import zipfile

NAME = "llcuda"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = os.path.join(metadata_directory, f"{NAME}-{VERSION}.dist-info")
    os.makedirs(dist_info, exist_ok=True)
    with open(os.path.join(dist_info, "METADATA"), "w") as metadata:
        metadata.write(_metadata())
    return os.path.basename(dist_info)


def _metadata():
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Run GGUF language models locally on NVIDIA GPUs and the CPU\nRequires-Dist: numpy\n")


def _tag():
    version = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{version}-{version}-{platform}"


def _build_extension():
    build_dir = os.path.join(ROOT, "build-python-wheel")
    configure = ["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DLLCUDA_TESTS=OFF",
                 f"-DPYTHON_EXECUTABLE={sys.executable}"]
    configure += shlex.split(os.environ.get("LLCUDA_CMAKE_ARGS", ""))
    subprocess.run(configure, check=True, stdout=sys.stderr)
    subprocess.run(["cmake", "--build", build_dir, "--target", "_llcuda", "--parallel"], check=True,
                   stdout=sys.stderr)
    package = os.path.join(build_dir, "python", NAME)
    files = sorted(name for name in os.listdir(package) if name.endswith((".py", ".so")))
    if not any(name.endswith(".so") for name in files):
        raise RuntimeError("the _llcuda extension was not built (is pybind11 installed?)")
    return package, files


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    package, files = _build_extension()
    wheel_name = f"{NAME}-{VERSION}-{_tag()}.whl"
    dist_info = f"{NAME}-{VERSION}.dist-info"
    records = []

    def add(archive, name, data):
        archive.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{name},sha256={digest},{len(data)}")

    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            with open(os.path.join(package, name), "rb") as source:
                add(archive, f"{NAME}/{name}", source.read())
        add(archive, f"{dist_info}/METADATA", _metadata().encode())
        add(archive, f"{dist_info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: llcuda_build\nRoot-Is-Purelib: false\nTag: {_tag()}\n".encode())
        records.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel_name
