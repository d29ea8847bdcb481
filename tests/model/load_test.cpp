#include "model/load.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "model/gguf_writer.h"
#include "support/temp_dir.h"

namespace sparkctl::model {
namespace {

namespace fs = std::filesystem;

class LoadTest : public test::TempDirTest {
  protected:
    fs::path write_tiny_gguf(const fs::path& path) {
        GgufWriter w;
        w.add_string("general.architecture", "llama");
        w.add_u32("llama.block_count", 2);
        w.add_u32("llama.embedding_length", 64);
        w.add_u32("llama.attention.head_count", 4);
        w.add_u32("llama.attention.head_count_kv", 2);
        w.add_u32("llama.context_length", 256);
        EXPECT_TRUE(w.add_tensor("token_embd.weight", 0 /* F32 */, {64, 32}).ok());
        EXPECT_TRUE(w.write(path).ok());
        return path;
    }
};

TEST_F(LoadTest, CatalogNamesAreCaseInsensitiveAndTakeHfIds) {
    auto a = load_model("GPT-OSS-120B");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->source, SourceKind::catalog);
    EXPECT_EQ(a->arch.n_layers, 36u);
    auto b = load_model("openai/gpt-oss-120b");
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->name, a->name);
}

TEST_F(LoadTest, UnknownNameSuggestsCloseOnes) {
    auto r = load_model("gpt-oss-12b");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    EXPECT_NE(r.error().message.find("unknown model 'gpt-oss-12b'"), std::string::npos);
    EXPECT_NE(r.error().message.find("did you mean"), std::string::npos);
    EXPECT_NE(r.error().message.find("gpt-oss-"), std::string::npos);
}

TEST_F(LoadTest, MissingPathIsNotFound) {
    auto r = load_model((dir_ / "nope.gguf").string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::not_found);
    EXPECT_NE(r.error().message.find("nope.gguf"), std::string::npos);
}

TEST_F(LoadTest, FilesAndDirectoriesDispatchByContent) {
    auto gguf = write_tiny_gguf(dir_ / "tiny.gguf");
    auto by_file = load_model(gguf.string());
    ASSERT_TRUE(by_file.ok()) << by_file.error().message;
    EXPECT_EQ(by_file->source, SourceKind::gguf);
    EXPECT_EQ(by_file->arch.n_kv_heads, 2u);

    // A directory holding one GGUF model loads it.
    auto by_dir = load_model(dir_.string());
    ASSERT_TRUE(by_dir.ok()) << by_dir.error().message;
    EXPECT_EQ(by_dir->source, SourceKind::gguf);

    // A GGUF without the extension is recognised by its magic.
    fs::copy_file(gguf, dir_ / "model.bin");
    auto by_magic = load_model((dir_ / "model.bin").string());
    ASSERT_TRUE(by_magic.ok()) << by_magic.error().message;

    // Two models in one directory: the user must choose.
    write_tiny_gguf(dir_ / "other.gguf");
    auto ambiguous = load_model(dir_.string());
    ASSERT_FALSE(ambiguous.ok());
    EXPECT_NE(ambiguous.error().message.find("several GGUF models"), std::string::npos);

    auto cfg = dir_ / "cfg" / "config.json";
    fs::create_directories(cfg.parent_path());
    ASSERT_TRUE(base::write_file_atomic(cfg, R"({"model_type": "llama", "num_hidden_layers": 3,
        "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 1})")
                    .ok());
    auto by_config = load_model(cfg.parent_path().string());
    ASSERT_TRUE(by_config.ok()) << by_config.error().message;
    EXPECT_EQ(by_config->arch.n_layers, 3u);
}

TEST_F(LoadTest, UnrecognisedFileIsBadInputNamingIt) {
    ASSERT_TRUE(base::write_file_atomic(dir_ / "notes.txt", "hello").ok());
    auto r = load_model((dir_ / "notes.txt").string());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, base::Errc::bad_input);
    EXPECT_NE(r.error().message.find("notes.txt"), std::string::npos);
}

}  // namespace
}  // namespace sparkctl::model
