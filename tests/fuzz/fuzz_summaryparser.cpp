// libFuzzer target: SummaryParser::parse on arbitrary bytes, its fast path checked
// against the general path. See README.md.
#include "core/summaryparser.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using agmem::ParseOutcome;
    // Small limits so that every "too large" branch is reachable with short inputs.
    agmem::SummaryLimits small;
    small.maxBodyBytes = 4096;
    small.maxAgentIdLength = 16;
    small.maxTopics = 8;
    small.maxTopicLength = 16;
    small.maxFacts = 8;
    small.maxFactLength = 16;
    small.maxMetadataBytes = 64;

    const QByteArray body =
        QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));
    for (const agmem::SummaryParser &parser :
         {agmem::SummaryParser(), agmem::SummaryParser(small)}) {
        const ParseOutcome outcome = parser.parse(body);
        // parse()'s fast path decides exactly as the general (QJsonDocument) path.
        const ParseOutcome general = parser.parseGeneral(body);
        if (outcome.status != general.status || outcome.detail != general.detail ||
            outcome.errors.size() != general.errors.size())
            abort();
        for (qsizetype i = 0; i < outcome.errors.size(); ++i) {
            const agmem::FieldError &a = outcome.errors.at(i);
            const agmem::FieldError &b = general.errors.at(i);
            if (a.loc != b.loc || a.msg != b.msg || a.type != b.type)
                abort();
        }
        const agmem::Summary &s = outcome.summary;
        const agmem::Summary &g = general.summary;
        if (s.agentId != g.agentId || s.timestamp != g.timestamp ||
            s.topicCounts != g.topicCounts || s.factHashes != g.factHashes ||
            s.metadata != g.metadata || s.memoryTypes != g.memoryTypes ||
            s.hasMetadata != g.hasMetadata || s.hasMemoryTypes != g.hasMemoryTypes)
            abort();
        // Invariants of the contract: an accepted summary has an id and non-negative
        // counts; a 422 lists at least one error and never more than the cap + 1.
        if (outcome.ok()) {
            if (outcome.summary.agentId.isEmpty())
                abort();
            for (const auto &[topic, count] : outcome.summary.topicCounts) {
                if (count < 0)
                    abort();
            }
        } else if (outcome.status == ParseOutcome::Status::Invalid) {
            if (outcome.errors.isEmpty() ||
                outcome.errors.size() > agmem::SummaryParser::MaxListedErrors + 1)
                abort();
        }
    }
    return 0;
}
