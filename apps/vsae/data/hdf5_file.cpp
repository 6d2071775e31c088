// HDF5 access through the C API, with handles closed by RAII and errors turned into vsae::Error.
#include "apps/vsae/data/hdf5_file.hpp"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <type_traits>
#include <utility>

#include "engine/core/check.hpp"

namespace vsae::data {

static_assert(std::is_same_v<hid_t, std::int64_t>, "H5File stores hid_t as int64_t (HDF5 >= 1.10)");

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

// HDF5 prints its error stack to stderr by default; we report our own one-line errors instead.
// The setting is per thread in thread-safe builds, so every entry point repeats it.
void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

class Handle {
 public:
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

hid_t native(H5Type type) {
  return type == H5Type::u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_DOUBLE;
}

std::string type_name(hid_t type) {
  const std::size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    default:
      return "non-numeric";
  }
}

std::vector<hsize_t> dims_of(hid_t space) {
  std::vector<hsize_t> dims(
      static_cast<std::size_t>(std::max(0, H5Sget_simple_extent_ndims(space))));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

// Selects rows [first, first + count) of `space` and returns the matching in-memory space.
hid_t select_rows(hid_t space, std::int64_t first, std::int64_t count) {
  std::vector<hsize_t> dims = dims_of(space);
  std::vector<hsize_t> start(dims.size(), 0), block = dims;
  start[0] = static_cast<hsize_t>(first);
  block[0] = static_cast<hsize_t>(count);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr);
  return H5Screate_simple(static_cast<int>(block.size()), block.data(), nullptr);
}

std::string rows_str(std::int64_t first, std::int64_t count) {
  return "rows " + std::to_string(first) + ".." + std::to_string(first + count - 1);
}

}  // namespace

namespace {

char crash_message[1024];
std::size_t crash_message_length = 0;
bool crash_aborts = false;

extern "C" void on_hdf5_crash(int) {
  // Only async-signal-safe calls here.
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, crash_message, crash_message_length);
  if (crash_aborts) std::abort();
  _exit(1);
}

}  // namespace

H5CrashGuard::H5CrashGuard(const std::string& path) {
  const std::string line = "vsae_gpu: error: " + path +
                           ": the HDF5 library crashed reading the file (it is corrupt); "
                           "vsae_gpu stops\n";
  crash_message_length = std::min(line.size(), sizeof crash_message);
  std::memcpy(crash_message, line.data(), crash_message_length);
  struct sigaction on_crash {};
  on_crash.sa_handler = on_hdf5_crash;
  sigemptyset(&on_crash.sa_mask);
  sigaction(SIGSEGV, &on_crash, &previous_segv_);
  sigaction(SIGBUS, &on_crash, &previous_bus_);
}

void H5CrashGuard::abort_on_crash(bool on) {
  crash_aborts = on;
}

H5CrashGuard::~H5CrashGuard() {
  sigaction(SIGSEGV, &previous_segv_, nullptr);
  sigaction(SIGBUS, &previous_bus_, nullptr);
}

std::string H5ArrayInfo::shape_str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

H5File H5File::open(const std::string& path) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, "file not found");
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an HDF5 file");
  const H5CrashGuard guard(path);
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail(path, "cannot open the HDF5 file (truncated or corrupt)");
  return H5File(path, id);
}

H5File H5File::create(const std::string& path) {
  silence_hdf5();
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail(path, "cannot create the HDF5 file");
  return H5File(path, id);
}

H5File::H5File(H5File&& other) noexcept
    : path_(std::move(other.path_)), id_(std::exchange(other.id_, -1)) {}

H5File::~H5File() {
  if (id_ >= 0) H5Fclose(id_);
}

void H5File::close() {
  silence_hdf5();
  if (id_ < 0) return;
  herr_t rc = H5Fclose(std::exchange(id_, -1));
  if (rc < 0) fail(path_, "closing the HDF5 file failed (disk full?)");
}

bool H5File::contains(const std::string& name) const {
  silence_hdf5();
  const H5CrashGuard guard(path_);
  return H5Lexists(id_, name.c_str(), H5P_DEFAULT) > 0 &&
         H5Oexists_by_name(id_, name.c_str(), H5P_DEFAULT) > 0;
}

H5ArrayInfo H5File::info(const std::string& name) const {
  silence_hdf5();
  const H5CrashGuard guard(path_);
  if (!contains(name)) fail(path_, "missing dataset '" + name + "'");
  Handle set(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.ok()) fail(path_, "'" + name + "' is not a dataset (or the file is corrupt)");
  Handle type(H5Dget_type(set.get()), H5Tclose);
  Handle space(H5Dget_space(set.get()), H5Sclose);
  if (!type.ok() || !space.ok())
    fail(path_, "cannot read the type and shape of '" + name + "' (file corrupt)");
  H5ArrayInfo info{type_name(type.get()), {}};
  for (hsize_t d : dims_of(space.get())) info.shape.push_back(static_cast<std::int64_t>(d));
  return info;
}

void H5File::read_rows(const std::string& name, std::int64_t first, std::int64_t count, H5Type type,
                       void* dst) const {
  silence_hdf5();
  const H5CrashGuard guard(path_);
  Handle set(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!set.ok()) fail(path_, "missing dataset '" + name + "'");
  Handle space(H5Dget_space(set.get()), H5Sclose);
  const std::vector<hsize_t> dims = dims_of(space.get());
  VSAE_CHECK(
      !dims.empty() && first >= 0 && count > 0 && static_cast<hsize_t>(first + count) <= dims[0],
      "rows " << first << "+" << count << " outside '" << name << "'");
  Handle memory(select_rows(space.get(), first, count), H5Sclose);
  if (H5Dread(set.get(), native(type), memory.get(), space.get(), H5P_DEFAULT, dst) < 0)
    fail(path_, "cannot read " + rows_str(first, count) + " of '" + name +
                    "' (file truncated or corrupt)");
}

void H5File::create_array(const std::string& name, H5Type type,
                          const std::vector<std::int64_t>& shape, bool compress) {
  silence_hdf5();
  VSAE_CHECK(!shape.empty() && shape[0] > 0, "an HDF5 array needs at least one row");
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (compress && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    // About 1 MiB per chunk: large enough for gzip, small enough for random row reads.
    hsize_t row_bytes = type == H5Type::u8 ? 1 : 8;
    for (std::size_t i = 1; i < dims.size(); ++i) row_bytes *= dims[i];
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::clamp<hsize_t>((hsize_t{1} << 20) / row_bytes, 1, dims[0]);
    H5Pset_chunk(props.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(props.get(), 4);  // h5py's default gzip level
  }
  Handle set(H5Dcreate2(id_, name.c_str(), native(type), space.get(), H5P_DEFAULT, props.get(),
                        H5P_DEFAULT),
             H5Dclose);
  if (!set.ok()) fail(path_, "cannot create dataset '" + name + "'");
}

void H5File::write_rows(const std::string& name, std::int64_t first, std::int64_t count,
                        H5Type type, const void* src) {
  silence_hdf5();
  Handle set(H5Dopen2(id_, name.c_str(), H5P_DEFAULT), H5Dclose);
  VSAE_CHECK(set.ok(), "dataset '" << name << "' was not created");
  Handle space(H5Dget_space(set.get()), H5Sclose);
  Handle memory(select_rows(space.get(), first, count), H5Sclose);
  if (H5Dwrite(set.get(), native(type), memory.get(), space.get(), H5P_DEFAULT, src) < 0)
    fail(path_, "cannot write " + rows_str(first, count) + " of '" + name + "' (disk full?)");
}

}  // namespace vsae::data
