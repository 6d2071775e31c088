# vsae_gpu container: the CUDA image (default) or the CPU image, from one Dockerfile.
#
# CUDA (NVIDIA's CUDA 13 + cuDNN devel image to build, its runtime image to run):
#   docker build -t vsae_gpu .
#   docker run --gpus all -v "$PWD/runs:/runs" vsae_gpu --json /configs/quick.json --out /runs/quick
# CPU (Debian, VSAE_CUDA=OFF; for machines without a GPU):
#   docker build -t vsae_gpu:cpu --build-arg VSAE_CUDA=OFF \
#     --build-arg BUILD_BASE=debian:bookworm --build-arg RUNTIME_BASE=debian:bookworm-slim .
#   docker run -v "$PWD/runs:/runs" vsae_gpu:cpu --json /configs/quick.json --out /runs/quick
# The bases are build arguments so that the image also builds from a local base (README: Docker).

ARG BUILD_BASE=nvidia/cuda:13.0.0-cudnn-devel-ubuntu24.04
ARG RUNTIME_BASE=nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

FROM ${BUILD_BASE} AS build
ARG VSAE_CUDA=ON
RUN apt-get update && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ git libgtest-dev libopenblas-openmp-dev libdnnl-dev nlohmann-json3-dev libhdf5-dev zlib1g-dev libzip-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVSAE_CUDA=${VSAE_CUDA} \
      -DVSAE_CUDA_ARCHS="80;90" -DVSAE_BUILD_TESTS=OFF \
    && cmake --build build --target vsae_gpu \
    && tools/runtime_packages.sh build/vsae_gpu > build/runtime-packages.txt

# The runtime stage installs the packages that hold the libraries vsae_gpu links (runtime
# libraries only, no -dev package), as found in the build stage. --no-upgrade leaves those the
# base image already has (the CUDA image's cuBLAS and cuDNN, which it holds) as they are.
FROM ${RUNTIME_BASE} AS runtime
COPY --from=build /src/build/runtime-packages.txt /usr/local/share/vsae_gpu/runtime-packages.txt
RUN apt-get update \
    && xargs -a /usr/local/share/vsae_gpu/runtime-packages.txt apt-get install -y --no-install-recommends --no-upgrade \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/vsae_gpu /usr/local/bin/vsae_gpu
COPY configs /configs
ENTRYPOINT ["vsae_gpu"]
