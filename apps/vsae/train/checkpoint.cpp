// Checkpoint save/restore over safetensors.
#include "apps/vsae/train/checkpoint.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "apps/vsae/config/run_config.hpp"
#include "engine/io/safetensors.hpp"

namespace vsae {

namespace {

HostTensor ints(const std::vector<std::int32_t>& v) {
  HostTensor h;
  h.dtype = DType::i32;
  h.shape = {static_cast<std::int64_t>(v.size())};
  h.bytes.resize(v.size() * 4);
  if (!v.empty()) std::memcpy(h.bytes.data(), v.data(), h.bytes.size());  // empty: data() may be null
  return h;
}

const HostTensor& need(const SafetensorsFile& f, const std::string& path, const std::string& name) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw Error("checkpoint " + path + ": missing tensor '" + name + "'");
  return it->second;
}

// What differs between the config a checkpoint recorded and this run's (`identity`, both
// config::resume_identity as JSON text), for the error message.
std::string config_change(const std::map<std::string, std::string>& metadata, const std::string& identity) {
  const auto it = metadata.find("config_identity");
  if (it == metadata.end() || identity.empty())
    return "or by a vsae_gpu version whose config has other keys or defaults";  // a checkpoint from before they recorded it
  const nlohmann::json written = nlohmann::json::parse(it->second, nullptr, false);
  if (written.is_discarded()) return "its recorded config is not valid JSON";
  return config::first_difference(written, nlohmann::json::parse(identity)) + " differs";
}

void upload(Backend& be, const SafetensorsFile& f, const std::string& path, const std::string& name, const Tensor& dst) {
  const HostTensor& h = need(f, path, name);
  Shape expected = dst.shape;
  bool same = h.dtype == dst.dtype && static_cast<int>(h.shape.size()) == expected.ndim();
  for (int i = 0; same && i < expected.ndim(); ++i) same = h.shape[static_cast<std::size_t>(i)] == expected[i];
  if (!same) {
    std::string file_shape = "(";
    for (std::size_t i = 0; i < h.shape.size(); ++i) file_shape += (i ? ", " : "") + std::to_string(h.shape[i]);
    throw Error("checkpoint " + path + ": tensor '" + name + "' is " + file_shape + ") " + to_string(h.dtype) +
                " in the file but " + expected.str() + " " + to_string(dst.dtype) +
                " in the model (a checkpoint of another architecture?)");
  }
  be.upload(dst, h.bytes.data());
}

std::vector<std::int32_t> read_ints(const SafetensorsFile& f, const std::string& path, const std::string& name) {
  const HostTensor& h = need(f, path, name);
  if (h.dtype != DType::i32 || h.shape.size() != 1) throw Error("checkpoint " + path + ": tensor '" + name + "' is not an i32 vector");
  std::vector<std::int32_t> v(static_cast<std::size_t>(h.shape[0]));
  if (!v.empty()) std::memcpy(v.data(), h.bytes.data(), h.bytes.size());
  return v;
}

}  // namespace

void save_checkpoint(const std::string& path, Backend& be, VaeSaeModel& model, const TrainerState& state) {
  SafetensorsFile f;
  for (const Parameter& p : model.graph().parameters()) {
    f.tensors[p.name] = download_host(be, p.value);
    f.tensors["optimizer.adam_m." + p.name] = download_host(be, p.adam_m);
    f.tensors["optimizer.adam_v." + p.name] = download_host(be, p.adam_v);
  }
  for (const auto& [name, t] : model.state_tensors()) f.tensors["state." + name] = download_host(be, t);
  f.tensors["trainer.dead_at_schedule_end"] = ints(state.dead_at_schedule_end);
  f.tensors["trainer.revived"] = ints(state.revived);
  f.tensors["trainer.last_fired"] = ints(state.last_fired);
  f.metadata["format"] = "vsae_gpu checkpoint v1";
  f.metadata["epochs_done"] = std::to_string(state.epochs_done);
  f.metadata["steps_done"] = std::to_string(state.steps_done);
  f.metadata["config_digest"] = state.config_digest;
  f.metadata["config_identity"] = state.config_identity;
  write_safetensors(path, f);
}

void load_checkpoint(const std::string& path, Backend& be, VaeSaeModel& model, TrainerState& state) {
  SafetensorsFile f = read_safetensors(path);
  auto meta = [&](const std::string& key) {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw Error("checkpoint " + path + ": metadata '" + key + "' is missing (not a vsae_gpu checkpoint?)");
    return it->second;
  };
  if (meta("format") != "vsae_gpu checkpoint v1") throw Error("checkpoint " + path + ": unknown format '" + meta("format") + "'");
  if (!state.config_digest.empty() && meta("config_digest") != state.config_digest)
    throw Error("checkpoint " + path + ": it was written by a run with a different config (" +
                config_change(f.metadata, state.config_identity) + "); resume needs the same config");
  try {
    state.epochs_done = std::stoll(meta("epochs_done"));
    state.steps_done = std::stoll(meta("steps_done"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    throw Error("checkpoint " + path + ": metadata epochs_done or steps_done is not a number");
  }
  for (const Parameter& p : model.graph().parameters()) {
    upload(be, f, path, p.name, p.value);
    upload(be, f, path, "optimizer.adam_m." + p.name, p.adam_m);
    upload(be, f, path, "optimizer.adam_v." + p.name, p.adam_v);
  }
  for (const auto& [name, t] : model.state_tensors()) upload(be, f, path, "state." + name, t);
  state.dead_at_schedule_end = read_ints(f, path, "trainer.dead_at_schedule_end");
  state.revived = read_ints(f, path, "trainer.revived");
  state.last_fired = read_ints(f, path, "trainer.last_fired");
}

}  // namespace vsae
