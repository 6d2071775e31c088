// Command-line overrides of the run config (--set KEY=VALUE): parsing, applying, conflicts.
#include <gtest/gtest.h>

#include "apps/vsae/config/overrides.hpp"
#include "apps/vsae/config/run_config.hpp"
#include "engine/core/check.hpp"

namespace vsae::config {
namespace {

using nlohmann::json;

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Overrides, ParsesKeyAndJsonValue) {
  Override o = parse_set("training.lr=3e-4");
  EXPECT_EQ(o.key, "training.lr");
  EXPECT_EQ(o.parts, (std::vector<std::string>{"training", "lr"}));
  EXPECT_EQ(o.source, "--set training.lr=3e-4");
  ASSERT_TRUE(o.value.is_number_float());
  EXPECT_DOUBLE_EQ(o.value.get<double>(), 3e-4);
  EXPECT_EQ(parse_set("seed=7").value, json(7));
  EXPECT_TRUE(parse_set("seed=7").value.is_number_integer());
  EXPECT_EQ(parse_set("training.tf32=false").value, json(false));
  EXPECT_EQ(parse_set("model.conv_channels=[16,16,32,32]").value, (json{16, 16, 32, 32}));
  EXPECT_EQ(parse_set("sparsity.schedule={\"start\": 8, \"end\": 4}").value, (json{{"start", 8}, {"end", 4}}));
  EXPECT_EQ(parse_set("sparsity.method=\"l1\"").value, json("l1"));
  EXPECT_TRUE(parse_set("device=null").value.is_null());
}

TEST(Overrides, ValueThatIsNotJsonIsAString) {
  EXPECT_EQ(parse_set("sparsity.method=l1").value, json("l1"));
  EXPECT_EQ(parse_set("dataset.source=/data/x y.npz").value, json("/data/x y.npz"));
  EXPECT_EQ(parse_set("name=123abc").value, json("123abc"));
  EXPECT_EQ(parse_set("name=").value, json(""));
  EXPECT_EQ(parse_set("name=[1,").value, json("[1,"));
  // Split at the first '=': the value may hold more.
  EXPECT_EQ(parse_set("name=a=b").value, json("a=b"));
  EXPECT_EQ(parse_set("name=a=b").key, "name");
  // Valid JSON stays JSON: a string that reads as a number needs quotes.
  EXPECT_EQ(parse_set("name=123").value, json(123));
  EXPECT_EQ(parse_set("name=\"123\"").value, json("123"));
}

TEST(Overrides, MalformedArgumentsNameTheArgument) {
  std::string e = error_of([] { parse_set("training.lr"); });
  EXPECT_NE(e.find("--set training.lr: expected KEY=VALUE"), std::string::npos) << e;
  e = error_of([] { parse_set("=3"); });
  EXPECT_NE(e.find("--set =3: the key is empty"), std::string::npos) << e;
  for (const char* arg : {"training..lr=1", ".lr=1", "training.=1"}) {
    e = error_of([&] { parse_set(arg); });
    EXPECT_NE(e.find(std::string("--set ") + arg + ": "), std::string::npos) << e;
    EXPECT_NE(e.find("empty component"), std::string::npos) << e;
  }
  e = error_of([] { parse_set("sweep.seed=[0,1]"); });
  EXPECT_NE(e.find("--set sweep.seed=[0,1]: keys under sweep"), std::string::npos) << e;
  EXPECT_NE(error_of([] { parse_set("sweep={}"); }).find("keys under sweep"), std::string::npos);
  e = error_of([] { parse_set("seed=1e999"); });
  EXPECT_NE(e.find("--set seed=1e999: "), std::string::npos) << e;
  // parse_sets reports the first bad one.
  e = error_of([] { parse_sets({"seed=1", "oops", "seed=2"}); });
  EXPECT_NE(e.find("--set oops:"), std::string::npos) << e;
}

TEST(Overrides, AppliesIntoExistingObjectsAndCreatesMissingOnes) {
  json root = {{"name", "r"}, {"training", {{"epochs", 3}, {"lr", 1e-3}}}, {"sparsity", nullptr}};
  apply_all(root, parse_sets({"training.lr=3e-4", "model.conv_channels=[16,16,32,32]",
                              "sparsity.schedule.end=4", "dataset.name=shapes3d"}));
  EXPECT_EQ(root["training"], (json{{"epochs", 3}, {"lr", 3e-4}}));  // the sibling key is kept
  EXPECT_EQ(root["model"], (json{{"conv_channels", {16, 16, 32, 32}}}));
  EXPECT_EQ(root["sparsity"], (json{{"schedule", {{"end", 4}}}}));  // a null section becomes an object
  EXPECT_EQ(root["dataset"]["name"], "shapes3d");
  EXPECT_EQ(root["name"], "r");
}

TEST(Overrides, LaterSetOfTheSameKeyWins) {
  json root = json::object();
  apply_all(root, parse_sets({"seed=1", "seed=2", "training={\"lr\": 0.5}", "training.epochs=4"}));
  EXPECT_EQ(root["seed"], 2);
  EXPECT_EQ(root["training"], (json{{"lr", 0.5}, {"epochs", 4}}));
  // A whole section after a key inside it replaces the section.
  apply_all(root, parse_sets({"training={\"epochs\": 9}"}));
  EXPECT_EQ(root["training"], (json{{"epochs", 9}}));
}

TEST(Overrides, IntermediateThatIsNotAnObjectIsAnError) {
  json root = {{"seed", 3}, {"model", {{"conv_channels", {1, 2, 3, 4}}}}};
  std::string e = error_of([&] { apply_override(root, parse_set("seed.x=1")); });
  EXPECT_NE(e.find("--set seed.x=1: seed is not an object in the config"), std::string::npos) << e;
  e = error_of([&] { apply_override(root, parse_set("model.conv_channels.a.b=1")); });
  EXPECT_NE(e.find("--set model.conv_channels.a.b=1: model.conv_channels is not an object"), std::string::npos) << e;
  EXPECT_EQ(root["seed"], 3);
  json not_object = json::array();
  EXPECT_NE(error_of([&] { apply_override(not_object, parse_set("seed=1")); }).find("not a JSON object"), std::string::npos);
}

TEST(Overrides, OverriddenValuesAreValidatedLikeTheFile) {
  auto parsed = [](const std::vector<std::string>& sets) {
    json root = json::object();
    apply_all(root, parse_sets(sets));
    return parse_run_config(root);
  };
  const RunConfig c = parsed({"training.lr=3e-4", "sparsity.method=l1", "model.conv_channels=[16,16,32,32]", "seed=5"});
  EXPECT_DOUBLE_EQ(c.training.lr, 3e-4);
  EXPECT_EQ(c.sparsity.method, SaeKind::l1);
  EXPECT_EQ(c.model.conv_channels, (std::vector<int>{16, 16, 32, 32}));
  EXPECT_EQ(c.seed, 5u);
  std::string e = error_of([&] { parsed({"training.lrr=1"}); });
  EXPECT_NE(e.find("unknown config key training.lrr"), std::string::npos) << e;
  e = error_of([&] { parsed({"training.lr=fast"}); });
  EXPECT_NE(e.find("training.lr must be a number"), std::string::npos) << e;
  e = error_of([&] { parsed({"sparsity.schedule.end=0"}); });
  EXPECT_NE(e.find("sparsity.schedule.end must be between"), std::string::npos) << e;
}

TEST(Overrides, FlagAndSetOfTheSameKeyConflict) {
  const std::vector<Override> flags = {flag_override("--out", "output.dir", "runs/a"),
                                       flag_override("--seed", "seed", 4)};
  EXPECT_EQ(error_of([&] { reject_flag_conflicts(parse_sets({"training.lr=1", "output.checkpoint_every=2"}), flags); }),
            "no error");
  std::string e = error_of([&] { reject_flag_conflicts(parse_sets({"seed=3"}), flags); });
  EXPECT_NE(e.find("--seed and --set seed=3 both set seed"), std::string::npos) << e;
  e = error_of([&] { reject_flag_conflicts(parse_sets({"output.dir=runs/b"}), flags); });
  EXPECT_NE(e.find("--out and --set output.dir=runs/b both set output.dir"), std::string::npos) << e;
  // A whole section holding the flag's key conflicts too.
  e = error_of([&] { reject_flag_conflicts(parse_sets({"output={\"dir\": \"x\"}"}), flags); });
  EXPECT_NE(e.find("--out and --set output="), std::string::npos) << e;
  EXPECT_NE(e.find("both set output.dir"), std::string::npos) << e;
}

TEST(Overrides, SweptKeysCannotBeSet) {
  const json root = {{"sweep", {{"seed", {0, 1}}, {"sparsity.method", {"topk", "l1"}}}}};
  EXPECT_EQ(error_of([&] { reject_swept_keys(root, parse_sets({"training.lr=1", "sparsity.schedule.end=4"})); }),
            "no error");
  std::string e = error_of([&] { reject_swept_keys(root, parse_sets({"seed=2"})); });
  EXPECT_EQ(e, "--set seed=2: the sweep sets this key");
  e = error_of([&] { reject_swept_keys(root, parse_sets({"sparsity={\"method\": \"l1\"}"})); });
  EXPECT_NE(e.find("the sweep sets sparsity.method, inside this key"), std::string::npos) << e;
  const json whole = {{"sweep", {{"sparsity", {json{{"method", "l1"}}}}}}};
  e = error_of([&] { reject_swept_keys(whole, parse_sets({"sparsity.method=topk"})); });
  EXPECT_NE(e.find("the sweep sets sparsity, which holds this key"), std::string::npos) << e;
  // Not a sweep: nothing to check.
  EXPECT_EQ(error_of([&] { reject_swept_keys(json{{"seed", 1}}, parse_sets({"seed=2"})); }), "no error");
}

TEST(Overrides, KeyPathsOverlap) {
  EXPECT_TRUE(overlaps({"output"}, {"output", "dir"}));
  EXPECT_TRUE(overlaps({"output", "dir"}, {"output"}));
  EXPECT_TRUE(overlaps({"seed"}, {"seed"}));
  EXPECT_FALSE(overlaps({"output", "dir"}, {"output", "checkpoint_every"}));
  EXPECT_FALSE(overlaps({"seed"}, {"seeds"}));
}

}  // namespace
}  // namespace vsae::config
