// The verdict on whether this machine can run the CUDA backend, from plain facts that
// cuda_usable() gathers; kept free of CUDA headers so its messages are tested in every build.
#pragma once

#include <string>

namespace vsae {

// What cuda_usable() saw.
struct CudaProbe {
  int driver_version = 0;   // cudaDriverGetVersion: the CUDA version the driver supports, 0 = none
  int runtime_version = 0;  // cudaRuntimeGetVersion: the runtime this build runs on
  std::string count_error;  // why cudaGetDeviceCount failed; empty when it succeeded
  int device_count = 0;
  std::string open_error;     // what failed when device 0's context was created; empty if none
  std::string library_error;  // what failed when cuDNN was loaded and a handle made; empty if none
  std::string device_name;    // device 0's name, once it opened
};

struct CudaVerdict {
  // The device runs the hand-written kernels (its context opens).
  bool kernels_usable = false;
  // ... and the libraries too (cuDNN, cuBLAS, graph capture): the whole CUDA backend.
  bool usable = false;
  bool simulated = false;  // device 0 is a simulator (is_simulated_device)
  std::string reason;   // why not, when !usable
  std::string warning;  // when usable but worth a line on stderr; may be empty
};

CudaVerdict judge_cuda_probe(const CudaProbe& probe);

// GPGPU-Sim names its simulated device "GPGPU-Sim_v<version>". It executes PTX (the hand-written
// kernels) but provides neither cuBLAS, cuDNN nor stream capture.
bool is_simulated_device(const std::string& device_name);

// 12040 -> "12.4", the way CUDA encodes versions (1000·major + 10·minor).
std::string cuda_version_string(int version);

}  // namespace vsae
