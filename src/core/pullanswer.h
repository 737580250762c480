#pragma once

#include "timestamp.h"

#include <QByteArray>
#include <QList>
#include <QMutex>
#include <QString>

#include <functional>
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
// the chunks it touches. Runs of consecutive chunks form blocks (about BlockChunks each),
// kept joined: an answer is a few hundred block pieces in order, and a change re-joins only
// the blocks holding a touched chunk. The bytes are exactly what a full serialization of
// the same state gives (MergeEngine::buildPullJson()).
//
// Thread-safe: the merge engine's thread publishes updates (cheap: they are queued, never
// waiting for a build), and whoever asks for the answer applies them; concurrent requests
// for the same state share one build. request() builds on the answer's own worker thread.
class PullAnswer
{
public:
    // A finished answer: immutable, shared between the requests that asked for it.
    struct Body
    {
        quint64 sequence = 0;
        // The answer in order (blocks of chunks and the few constant pieces); written one
        // after the other they are the answer. Implicitly shared with the answer's cache.
        QList<QByteArray> pieces;
        // The sum of the pieces' sizes.
        qsizetype size = 0;
        // Plain: the answer's length. Gzip: the length of what it decodes to.
        qsizetype plainSize = 0;
        // The pieces joined (a copy of the whole answer: for tests and exports).
        QByteArray joined() const;
    };
    using BodyPtr = std::shared_ptr<const Body>;
    enum class Encoding
    {
        Plain,
        Gzip
    };

    PullAnswer();
    ~PullAnswer();
    PullAnswer(const PullAnswer &) = delete;
    PullAnswer &operator=(const PullAnswer &) = delete;

    void publish(ViewUpdate update);

    // The answer for everything published so far, built on the calling thread if needed.
    BodyPtr plain();
    // RFC 1952 gzip of plain()'s bytes.
    BodyPtr gzip();
    BodyPtr body(Encoding encoding) { return encoding == Encoding::Gzip ? gzip() : plain(); }

    // The answer for everything published so far when it is built already (no work), else
    // nullptr.
    BodyPtr ready(Encoding encoding);
    // Hands the answer for everything published so far to `done`, at once (on the calling
    // thread) when it is ready, else from the answer's worker thread once built. Requests
    // waiting at the same time share one build; the calling thread never builds.
    void request(Encoding encoding, std::function<void(BodyPtr)> done);
    // Waits until the worker thread has nothing left to do (before tearing down whoever
    // receives request()'s answers).
    void waitForIdle();

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
    // Chunks per block: a change re-joins about this many chunks' bytes (about 70 kB of
    // fact hashes); an answer of N keys is about N / (ChunkTarget * BlockChunks) pieces.
    static constexpr qsizetype BlockChunks = 16;

    // Deflate level of the gzip pieces, which are Huffman-coded only (Z_HUFFMAN_ONLY): fact
    // hashes are hex, so Huffman coding does nearly all of the work. On 300k SHA-256 hashes
    // in 4.3 kB pieces Huffman-only gave 52.6% of the plain size against level 1's 55.3% and
    // level 6's 54.8%, at about half of level 1's time (bench/RESULTS.md).
    static constexpr int GzipLevel = 1;

    // For tests: how many chunks were serialized and deflated since construction.
    struct Counters
    {
        qint64 chunksSerialized = 0;
        // Changes written into a chunk's JSON in place of serializing the chunk again.
        qint64 chunksPatched = 0;
        qint64 chunksDeflated = 0;
        qint64 fullBuilds = 0;
        // Blocks joined (plain and gzip) and answers assembled.
        qint64 blocksJoined = 0;
        qint64 answersBuilt = 0;
        // Answers built on the worker thread (request()).
        qint64 workerBuilds = 0;
    };
    Counters counters();

    struct Chunk;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace agmem
