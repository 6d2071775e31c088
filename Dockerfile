# vsae_gpu container: build on NVIDIA's CUDA 13 + cuDNN devel image, run on the slim runtime image.
#   docker build -t vsae_gpu .
#   docker run --gpus all -v "$PWD/runs:/runs" vsae_gpu --json /configs/quick.json --out /runs/quick

FROM nvidia/cuda:13.0.0-cudnn-devel-ubuntu24.04 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ git libgtest-dev libopenblas-openmp-dev libdnnl-dev nlohmann-json3-dev libhdf5-dev zlib1g-dev libzip-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVSAE_CUDA=ON \
      -DVSAE_CUDA_ARCHS="80;90" -DVSAE_BUILD_TESTS=OFF \
    && cmake --build build --target vsae_gpu

FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04 AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
      libopenblas0-openmp libgomp1 libhdf5-103-1t64 libzip4t64 zlib1g libdnnl-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/vsae_gpu /usr/local/bin/vsae_gpu
COPY configs /configs
ENTRYPOINT ["vsae_gpu"]
