// Turns what cuda_usable() saw into a yes or no with a message a user can act on.
#include "engine/core/cuda_probe.hpp"

namespace vsae {

std::string cuda_version_string(int version) {
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

CudaVerdict judge_cuda_probe(const CudaProbe& probe) {
  CudaVerdict verdict;
  const std::string driver = cuda_version_string(probe.driver_version);
  const std::string runtime = cuda_version_string(probe.runtime_version);
  if (!probe.count_error.empty()) {
    // Without a driver the runtime reports "driver version is insufficient", which misleads.
    if (probe.driver_version == 0)
      verdict.reason = "no NVIDIA driver or GPU was found";
    else if (probe.driver_version < probe.runtime_version)
      verdict.reason = "the NVIDIA driver supports CUDA " + driver + ", too old for the CUDA " +
                       runtime + " runtime of this build (" + probe.count_error +
                       "); update the driver";
    else
      verdict.reason = "no usable CUDA device: " + probe.count_error;
    return verdict;
  }
  if (probe.device_count == 0) {
    verdict.reason = "no CUDA device found";
    return verdict;
  }
  if (!probe.open_error.empty()) {
    verdict.reason = "CUDA device 0 cannot be used: " + probe.open_error;
    return verdict;
  }
  verdict.kernels_usable = true;
  verdict.simulated = is_simulated_device(probe.device_name);
  if (verdict.simulated) {
    verdict.reason = "CUDA device 0 is the GPGPU-Sim simulator (" + probe.device_name +
                     "), which runs the hand-written kernels but has no cuBLAS, cuDNN or graph capture";
    return verdict;
  }
  if (!probe.library_error.empty()) {
    verdict.reason = "CUDA device 0 cannot run cuDNN: " + probe.library_error;
    return verdict;
  }
  verdict.usable = true;
  // The device opened, so the driver runs this runtime: CUDA minor-version compatibility lets a
  // driver of the same major version run a newer runtime, without features newer than the driver.
  if (probe.driver_version < probe.runtime_version)
    verdict.warning = "the NVIDIA driver supports CUDA " + driver + ", older than the CUDA " +
                      runtime +
                      " runtime of this build; running under CUDA minor-version compatibility";
  return verdict;
}

bool is_simulated_device(const std::string& device_name) {
  return device_name.rfind("GPGPU-Sim", 0) == 0;
}

}  // namespace vsae
