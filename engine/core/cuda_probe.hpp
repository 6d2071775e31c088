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
  std::string open_error;  // what failed when device 0 was tried (context, cuDNN); empty if none
};

struct CudaVerdict {
  bool usable = false;
  std::string reason;   // why not, when !usable
  std::string warning;  // when usable but worth a line on stderr; may be empty
};

CudaVerdict judge_cuda_probe(const CudaProbe& probe);

// 12040 -> "12.4", the way CUDA encodes versions (1000·major + 10·minor).
std::string cuda_version_string(int version);

}  // namespace vsae
