# Run by ctest after GoogleTest's discovery: labels cuda_kernels every CUDA case that needs only
# the hand-written kernels (no cuBLAS, cuDNN or graph capture), the cases a GPU simulator can
# execute: `ctest -L cuda_kernels`. Such a case also gets VSAE_KERNEL_ONLY_CASE=1, under which
# VSAE_REQUIRE_CUDA_LIBRARIES fails: a case labelled here that turns out to need a library fails
# on every GPU run instead of skipping under the simulator.

# A CUDA case: its suite ends in Backends or holds Cuda, or its test name starts with Cuda.
set(vsae_cuda_case "(^|/)[A-Za-z0-9_]*(Backends|Cuda[A-Za-z0-9_]*)\\.|\\.Cuda")
# ... that needs a library (or no device at all: host-side checks with Cuda in their name).
set(vsae_library_case
    "(^|/)(Conv[A-Za-z0-9_]*|Linear[A-Za-z0-9_]*|StepGraphCuda|CudaProbe)\\.|^Model\\.|^Topk\\.CudaGraph|^CudaCheck\\.Cudnn|^Core\\.CudaRequestFails")

foreach(vsae_list test_engine_TESTS test_kernels_TESTS test_data_TESTS test_apps_TESTS)
  foreach(vsae_test IN LISTS ${vsae_list})
    if(vsae_test MATCHES "${vsae_cuda_case}" AND NOT vsae_test MATCHES "${vsae_library_case}")
      set_tests_properties("${vsae_test}" PROPERTIES LABELS cuda_kernels
                           ENVIRONMENT_MODIFICATION "VSAE_KERNEL_ONLY_CASE=set:1")
    endif()
  endforeach()
endforeach()
