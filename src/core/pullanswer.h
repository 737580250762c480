#pragma once

#include "timestamp.h"

#include <QByteArray>
#include <QList>
#include <QMutex>
#include <QString>

#include <memory>
#include <optional>
#include <vector>

namespace agmem {

// One key of the merged view as it is now: a topic and its total, or a fact (value unused).
// `present` false: the key left the view.
struct ViewEntry
{
    QString key;
    qint64 value = 0;
    bool present = false;
};

// What changed in the merged view since the last update (or, when `full`, all of it).
// Entries are in the order the changes happened; for a key, the last one counts.
struct ViewUpdate
{
    bool full = false;
    std::vector<ViewEntry> topics;
    std::vector<ViewEntry> facts;
    // The rest of the answer, as it is now.
    qint64 contributors = 0;
    std::optional<Instant> lastUpdated;
    qint64 totalFacts = 0;
    qint64 totalTopics = 0;
    QByteArray mergeMode;
    quint64 sequence = 0;
};

// The body of GET /pull, maintained rather than rebuilt: the sorted topics and facts are
// kept in chunks, each with its JSON (and, once asked for, its gzip member: raw deflate
// ending in a full flush, so members join into one stream). A change re-serializes only
// the chunks it touches; an answer is its pieces in order. The bytes are exactly what a
// full serialization of the same state gives (MergeEngine::buildPullJson()).
//
// Thread-safe: the merge engine's thread publishes updates (cheap: they are queued), and
// whoever asks for the answer applies them; concurrent requests for the same state share
// one build.
class PullAnswer
{
public:
    // A finished answer: immutable, shared between the requests that asked for it.
    struct Body
    {
        quint64 sequence = 0;
        // The answer in order; their concatenation is `bytes`.
        QList<QByteArray> pieces;
        QByteArray bytes;
        // Plain: the answer's length. Gzip: the length of what it decodes to.
        qsizetype plainSize = 0;
    };
    using BodyPtr = std::shared_ptr<const Body>;

    PullAnswer();
    ~PullAnswer();
    PullAnswer(const PullAnswer &) = delete;
    PullAnswer &operator=(const PullAnswer &) = delete;

    void publish(ViewUpdate update);

    BodyPtr plain();
    // RFC 1952 gzip of plain()'s bytes.
    BodyPtr gzip();

    // A page of the sorted facts (GET /facts), read from the chunks instead of sorting
    // the whole set: `offset` and at most `limit` facts, and `total`, how many there are;
    // with `contains` given, only the facts containing it (case-insensitive), and `total`
    // counts those.
    struct FactsPage
    {
        std::vector<QString> facts;
        qint64 total = 0;
    };
    FactsPage facts(qint64 offset, qint64 limit, const QString &contains = {});

    // Keys per chunk: a change re-serializes (and re-compresses) about this many entries.
    static constexpr qsizetype ChunkTarget = 64;

    // Deflate level of the gzip pieces. Fact hashes are hex: Huffman coding does nearly all
    // of the work, and level 1 gave within 0.3% of level 6's size (bench/RESULTS.md).
    static constexpr int GzipLevel = 1;

    // For tests: how many chunks were serialized and deflated since construction.
    struct Counters
    {
        qint64 chunksSerialized = 0;
        qint64 chunksDeflated = 0;
        qint64 fullBuilds = 0;
    };
    Counters counters();

    struct Chunk;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace agmem
