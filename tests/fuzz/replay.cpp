// Replays a fuzz corpus (seeds and saved crash inputs) through a fuzz target's
// LLVMFuzzerTestOneInput, without libFuzzer: ctest runs it on every build, so an input
// that once crashed or broke an invariant stays fixed. Built with the normal compiler.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    int inputs = 0;
    int crashInputs = 0;
    for (int i = 1; i < argc; ++i) {
        std::error_code error;
        for (const auto &entry : std::filesystem::recursive_directory_iterator(argv[i], error)) {
            if (!entry.is_regular_file())
                continue;
            std::ifstream file(entry.path(), std::ios::binary);
            const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                          std::istreambuf_iterator<char>());
            // Named first: a failed check aborts, and the log then says which input.
            std::fprintf(stderr, "%s\n", entry.path().c_str());
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
            ++inputs;
            if (entry.path().filename().string().rfind("crash-", 0) == 0)
                ++crashInputs;
        }
        if (error) {
            std::fprintf(stderr, "cannot read %s: %s\n", argv[i], error.message().c_str());
            return 1;
        }
    }
    std::printf("%d inputs replayed (%d saved crash inputs)\n", inputs, crashInputs);
    // An empty corpus is a broken setup, not a pass.
    return inputs > 0 ? 0 : 1;
}
