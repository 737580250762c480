#include "pullanswer.h"

#include "jsonwriter.h"
#include "mergeengine.h"

#include <QMutexLocker>
#include <QStringMatcher>
#include <QThreadPool>

#include <zlib.h>

#include <algorithm>

namespace agmem {

struct PullAnswer::Chunk
{
    std::vector<QString> keys;
    std::vector<qint64> values; // topics only
    QByteArray json;
    bool jsonValid = false;
    // Where each key's entry ends in `json` (valid with it): a change of a few keys patches
    // the bytes around their entries instead of writing every key again.
    std::vector<quint32> ends;
    // The update that last patched this chunk, and how often it did: past MaxPatches in one
    // update, the chunk is written whole at the next build instead.
    quint64 patchedIn = 0;
    int patches = 0;
    QByteArray gz;
    quint32 crc = 0;
    bool gzValid = false;
    // Names this chunk's JSON: a new number each time it is serialized.
    quint64 serial = 0;
    // The first chunk of a block. The block's joined bytes live here, with what they were
    // joined from (a leading-separator flag, then each chunk's serial).
    bool blockStart = false;
    std::vector<quint64> plainBlockOf;
    QByteArray plainBlock;
    std::vector<quint64> gzBlockOf;
    QByteArray gzBlock;
    quint32 gzBlockCrc = 0;
    qsizetype gzBlockLength = 0;

    void dropBlock()
    {
        plainBlockOf.clear();
        plainBlock.clear();
        gzBlockOf.clear();
        gzBlock.clear();
    }

    void touch()
    {
        jsonValid = false;
        gzValid = false;
    }
};

namespace {

using Chunk = PullAnswer::Chunk;
using Chunks = std::vector<Chunk>;

const QByteArray Head = QByteArrayLiteral(R"({"merged_topic_counts":{)");
const QByteArray Middle = QByteArrayLiteral(R"(},"unique_fact_hashes":[)");
const QByteArray Separator = QByteArrayLiteral(",");
// RFC 1952 header: deflate, no name, no time, unknown OS (as OperationsApi::gzip did).
const QByteArray GzipHeader("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
// A final, empty block with fixed codes: what deflate(Z_FINISH) writes after a flush.
const QByteArray FinalBlock("\x03\x00", 2);

// One gzip member piece: the deflate of `in` on its own, ending byte-aligned (full flush),
// so that pieces can follow each other in any order.
struct Deflated
{
    QByteArray bytes;
    quint32 crc = 0;
};

class Deflater
{
public:
    Deflater()
    {
        m_ok = deflateInit2(&m_z, PullAnswer::GzipLevel, Z_DEFLATED, -MAX_WBITS, 8,
                            Z_HUFFMAN_ONLY) == Z_OK;
    }
    ~Deflater()
    {
        if (m_ok)
            deflateEnd(&m_z);
    }
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;

    Deflated piece(const QByteArray &in)
    {
        Deflated out;
        out.crc = quint32(crc32(crc32(0L, Z_NULL, 0),
                                reinterpret_cast<const Bytef *>(in.constData()), uInt(in.size())));
        if (!m_ok)
            qFatal("zlib: deflateInit2 failed");
        deflateReset(&m_z);
        out.bytes.resize(qsizetype(deflateBound(&m_z, uLong(in.size()))) + 64);
        m_z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.constData()));
        m_z.avail_in = uInt(in.size());
        m_z.next_out = reinterpret_cast<Bytef *>(out.bytes.data());
        m_z.avail_out = uInt(out.bytes.size());
        for (;;) {
            if (deflate(&m_z, Z_FULL_FLUSH) == Z_STREAM_ERROR)
                qFatal("zlib: deflate failed");
            if (m_z.avail_out != 0)
                break;
            const qsizetype done = qsizetype(m_z.total_out);
            out.bytes.resize(out.bytes.size() * 2);
            m_z.next_out = reinterpret_cast<Bytef *>(out.bytes.data() + done);
            m_z.avail_out = uInt(out.bytes.size() - done);
        }
        out.bytes.resize(qsizetype(m_z.total_out));
        return out;
    }

private:
    z_stream m_z = {};
    bool m_ok = false;
};

bool keyLess(const QString &a, const QString &b)
{
    return CodePointLess{}(a, b);
}

// Sorts entries by key, keeping for each key only the last one (the newest change).
void lastPerKey(std::vector<ViewEntry> &entries)
{
    const auto less = [](const ViewEntry &a, const ViewEntry &b) { return keyLess(a.key, b.key); };
    // A full update comes sorted (MergeEngine::publish): checking is one pass.
    if (!std::is_sorted(entries.begin(), entries.end(), less))
        std::stable_sort(entries.begin(), entries.end(), less);
    size_t out = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (i + 1 < entries.size() && entries[i + 1].key == entries[i].key)
            continue; // a later change of the same key follows
        if (out != i)
            entries[out] = std::move(entries[i]);
        ++out;
    }
    entries.resize(out);
}

void rebuild(Chunks &chunks, std::vector<ViewEntry> &entries, bool withValues)
{
    lastPerKey(entries);
    chunks.clear();
    for (ViewEntry &e : entries) {
        if (!e.present)
            continue;
        if (chunks.empty() || qsizetype(chunks.back().keys.size()) >= PullAnswer::ChunkTarget) {
            chunks.emplace_back();
            chunks.back().blockStart = (chunks.size() - 1) % PullAnswer::BlockChunks == 0;
        }
        Chunk &c = chunks.back();
        c.keys.push_back(std::move(e.key));
        if (withValues)
            c.values.push_back(e.value);
    }
}

// An update being applied: what patching a chunk's JSON needs.
struct Edit
{
    bool withValues = false;
    quint64 update = 0; // names the update (Chunk::patchedIn)
    quint64 *nextSerial = nullptr;
    qint64 *patched = nullptr; // Counters::chunksPatched
};

constexpr int MaxPatches = 4;

// One entry of a section: a fact's string, or a topic's string, ':' and its count.
void appendEntry(QByteArray *out, const QString &key, qint64 value, bool withValues)
{
    JsonWriter::appendString(out, key);
    if (withValues)
        out->append(':').append(QByteArray::number(value));
}

QByteArray entryJson(const QString &key, qint64 value, bool withValues)
{
    QByteArray out;
    out.reserve(key.size() + 24);
    appendEntry(&out, key, value, withValues);
    return out;
}

// Whether `c`'s JSON is to be patched for one more change; if not, it is written whole at
// the next build.
bool mayPatch(Chunk &c, const Edit &edit)
{
    if (!c.jsonValid)
        return false;
    if (c.patchedIn != edit.update) {
        c.patchedIn = edit.update;
        c.patches = 0;
    }
    if (++c.patches > MaxPatches) {
        c.touch();
        return false;
    }
    return true;
}

// `c` holds patched JSON: a new serial (its blocks are joined again), a new deflate.
void patched(Chunk &c, QByteArray json, const Edit &edit)
{
    c.json = std::move(json); // a new buffer: answers already handed out keep the old one
    c.serial = ++*edit.nextSerial;
    c.gzValid = false;
    ++*edit.patched;
}

void shiftEnds(Chunk &c, size_t from, qint64 delta)
{
    for (size_t k = from; k < c.ends.size(); ++k)
        c.ends[k] = quint32(qint64(c.ends[k]) + delta);
}

// `c`'s bytes [from, to) become `with`, in a new buffer; the entries from `shiftFrom` on
// move by the difference.
void splice(Chunk &c, qsizetype from, qsizetype to, std::initializer_list<QByteArrayView> with,
            size_t shiftFrom, const Edit &edit)
{
    qsizetype added = 0;
    for (QByteArrayView piece : with)
        added += piece.size();
    QByteArray json;
    json.reserve(c.json.size() - (to - from) + added);
    json.append(QByteArrayView(c.json).first(from));
    for (QByteArrayView piece : with)
        json.append(piece);
    json.append(QByteArrayView(c.json).sliced(to));
    shiftEnds(c, shiftFrom, added - (to - from));
    patched(c, std::move(json), edit);
}

// Entry `i`'s bytes become `entry` (a topic's new count).
void patchReplace(Chunk &c, size_t i, const QByteArray &entry, const Edit &edit)
{
    const qsizetype start = i == 0 ? 0 : qsizetype(c.ends[i - 1]) + 1;
    splice(c, start, qsizetype(c.ends[i]), {entry}, i, edit);
}

// `entry` goes in as entry `i` (the chunk's keys not inserted yet: `c.ends` has the old;
// a chunk with valid JSON is never empty).
void patchInsert(Chunk &c, size_t i, const QByteArray &entry, const Edit &edit)
{
    Q_ASSERT(!c.ends.empty());
    if (i == 0) {
        splice(c, 0, 0, {entry, ","}, 0, edit);
        c.ends.insert(c.ends.begin(), quint32(entry.size()));
    } else {
        const qsizetype at = qsizetype(c.ends[i - 1]);
        splice(c, at, at, {",", entry}, i, edit);
        c.ends.insert(c.ends.begin() + qsizetype(i), quint32(at + 1 + entry.size()));
    }
}

// Entry `i` of two or more goes (with the separator before it, or after it when it is the
// first).
void patchErase(Chunk &c, size_t i, const Edit &edit)
{
    const qsizetype from = i == 0 ? 0 : qsizetype(c.ends[i - 1]);
    const qsizetype to = i == 0 ? qsizetype(c.ends[0]) + 1 : qsizetype(c.ends[i]);
    c.ends.erase(c.ends.begin() + qsizetype(i));
    splice(c, from, to, {}, i, edit);
}

void applyOne(Chunks &chunks, ViewEntry &e, const Edit &edit)
{
    const bool withValues = edit.withValues;
    if (chunks.empty()) {
        if (!e.present)
            return;
        Chunk &c = chunks.emplace_back();
        c.keys.push_back(std::move(e.key));
        if (withValues)
            c.values.push_back(e.value);
        return;
    }
    // The chunk whose first key is the last one not after `key` (or the first chunk).
    auto it =
        std::upper_bound(chunks.begin(), chunks.end(), e.key, [](const QString &k, const Chunk &c) {
            return keyLess(k, c.keys.front());
        });
    if (it != chunks.begin())
        --it;
    Chunk &c = *it;
    const auto pos = std::lower_bound(c.keys.begin(), c.keys.end(), e.key, keyLess);
    const size_t index = size_t(pos - c.keys.begin());
    const bool found = pos != c.keys.end() && *pos == e.key;
    if (e.present) {
        if (found) {
            if (withValues && c.values[index] != e.value) {
                c.values[index] = e.value;
                if (mayPatch(c, edit))
                    patchReplace(c, index, entryJson(e.key, e.value, true), edit);
            }
            return;
        }
        if (mayPatch(c, edit))
            patchInsert(c, index, entryJson(e.key, e.value, withValues), edit);
        c.keys.insert(pos, std::move(e.key));
        if (withValues)
            c.values.insert(c.values.begin() + qsizetype(index), e.value);
        if (qsizetype(c.keys.size()) >= 2 * PullAnswer::ChunkTarget) {
            // Split in two halves (and their JSON, when it is valid).
            Chunk tail;
            const auto half = qsizetype(c.keys.size()) / 2;
            tail.keys.assign(std::make_move_iterator(c.keys.begin() + half),
                             std::make_move_iterator(c.keys.end()));
            c.keys.resize(size_t(half));
            if (withValues) {
                tail.values.assign(c.values.begin() + half, c.values.end());
                c.values.resize(size_t(half));
            }
            if (c.jsonValid) {
                const qsizetype cut = qsizetype(c.ends[size_t(half) - 1]);
                tail.ends.assign(c.ends.begin() + half, c.ends.end());
                c.ends.resize(size_t(half));
                tail.jsonValid = true;
                patched(tail, c.json.sliced(cut + 1), edit);
                shiftEnds(tail, 0, -(cut + 1));
                patched(c, c.json.first(cut), edit);
            }
            chunks.insert(it + 1, std::move(tail));
        }
        return;
    }
    if (!found)
        return;
    if (c.keys.size() > 1 && mayPatch(c, edit)) // a chunk left empty goes
        patchErase(c, index, edit);
    c.keys.erase(pos);
    if (withValues)
        c.values.erase(c.values.begin() + qsizetype(index));
    if (c.keys.empty()) {
        // The block it started goes on from the next chunk.
        if (c.blockStart && it + 1 != chunks.end())
            (it + 1)->blockStart = true;
        chunks.erase(it);
        return;
    }
    // Join a small chunk with its successor when both fit in one.
    const auto next = it + 1;
    if (qsizetype(c.keys.size()) < PullAnswer::ChunkTarget / 4 && next != chunks.end() &&
        qsizetype(c.keys.size() + next->keys.size()) <= PullAnswer::ChunkTarget) {
        c.keys.insert(c.keys.end(), std::make_move_iterator(next->keys.begin()),
                      std::make_move_iterator(next->keys.end()));
        if (withValues)
            c.values.insert(c.values.end(), next->values.begin(), next->values.end());
        if (c.jsonValid && next->jsonValid) {
            const qsizetype offset = c.json.size() + 1;
            const size_t from = c.ends.size();
            splice(c, c.json.size(), c.json.size(), {",", next->json}, from, edit);
            c.ends.insert(c.ends.end(), next->ends.begin(), next->ends.end());
            shiftEnds(c, from, offset);
        } else {
            c.touch();
        }
        chunks.erase(next);
    }
}

void applyEntries(Chunks &chunks, std::vector<ViewEntry> &entries, const Edit &edit)
{
    lastPerKey(entries);
    for (ViewEntry &e : entries)
        applyOne(chunks, e, edit);
}

// Asks the CPU to start loading what `p` points to.
inline void prefetch(const void *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    Q_UNUSED(p);
#endif
}

void serialize(Chunk &c, bool withValues, quint64 serial)
{
    QByteArray out; // a new buffer: answers already handed out keep the old one
    qsizetype bytes = 0;
    for (const QString &k : c.keys)
        bytes += k.size() + 4 + (withValues ? 20 : 0);
    out.reserve(bytes);
    // Each key's characters are a heap block of their own, rarely in any cache when a chunk
    // is re-serialized (a few keys of a large view changed): waiting for one key's load at a
    // time made this loop most of a changed pull's cost. The loads of the keys a few places
    // ahead start early, so they overlap.
    constexpr size_t Ahead = 8;
    const size_t count = c.keys.size();
    for (size_t i = 0; i < std::min(Ahead, count); ++i)
        prefetch(c.keys[i].constData());
    c.ends.resize(count);
    for (size_t i = 0; i < count; ++i) {
        if (i + Ahead < count)
            prefetch(c.keys[i + Ahead].constData());
        if (i)
            out.append(',');
        appendEntry(&out, c.keys[i], withValues ? c.values[i] : 0, withValues);
        c.ends[i] = quint32(out.size());
    }
    c.json = std::move(out);
    c.jsonValid = true;
    c.serial = serial;
}

// Walks a section's chunks block by block: visit(first, end, lead) for each block
// [first, end); `lead`: a separator goes before it (not the section's first block). A block
// grown past twice BlockChunks (by splits) is cut in two.
template <typename Visit>
void forBlocks(Chunks &chunks, Visit visit)
{
    size_t i = 0;
    bool lead = false;
    while (i < chunks.size()) {
        chunks[i].blockStart = true;
        size_t end = i + 1;
        while (end < chunks.size() && !chunks[end].blockStart) {
            if (!chunks[end].plainBlockOf.empty() || !chunks[end].gzBlockOf.empty())
                chunks[end].dropBlock(); // no longer starts a block
            ++end;
        }
        if (qsizetype(end - i) > 2 * PullAnswer::BlockChunks) {
            end = i + size_t(PullAnswer::BlockChunks);
            chunks[end].blockStart = true;
        }
        visit(i, end, lead);
        lead = true;
        i = end;
    }
}

// Whether a block's cached bytes (joined from `of`) are still its bytes.
bool sameBlock(const std::vector<quint64> &of, const Chunks &chunks, size_t first, size_t end,
               bool lead)
{
    if (of.size() != end - first + 1 || of[0] != (lead ? 1 : 0))
        return false;
    for (size_t k = first; k < end; ++k) {
        if (of[k - first + 1] != chunks[k].serial)
            return false;
    }
    return true;
}

// What a block is joined from: the leading-separator flag, then each chunk's serial.
std::vector<quint64> blockKey(const Chunks &chunks, size_t first, size_t end, bool lead)
{
    std::vector<quint64> key;
    key.reserve(end - first + 1);
    key.push_back(lead ? 1 : 0);
    for (size_t k = first; k < end; ++k)
        key.push_back(chunks[k].serial);
    return key;
}

QByteArray tailOf(const ViewUpdate &h)
{
    QByteArray out;
    out.reserve(200);
    out.append(R"(],"contributing_agents":)").append(QByteArray::number(h.contributors));
    out.append(R"(,"last_updated":)");
    if (h.lastUpdated)
        JsonWriter::appendString(&out, formatIsoTimestamp(*h.lastUpdated));
    else
        out.append("null");
    out.append(R"(,"metadata":{"total_facts":)").append(QByteArray::number(h.totalFacts));
    out.append(R"(,"total_topics":)").append(QByteArray::number(h.totalTopics));
    out.append(R"(,"merge_mode":)");
    JsonWriter::appendString(&out, QString::fromLatin1(h.mergeMode));
    out.append(R"(,"sequence":)").append(QByteArray::number(qint64(h.sequence)));
    out.append("}}");
    return out;
}

void appendLE(QByteArray *out, quint32 word)
{
    for (int i = 0; i < 4; ++i)
        out->append(char((word >> (8 * i)) & 0xff));
}

} // namespace

struct PullAnswer::Impl
{
    // What was published and the answers built: held only briefly (publish() never waits
    // for a build).
    QMutex stateMutex;
    ViewUpdate pending;
    bool hasPending = false;
    // Updates published so far; an answer built after taking them all reflects this many.
    quint64 published = 0;
    BodyPtr built[2];
    quint64 builtFrom[2] = {0, 0};
    struct Waiter
    {
        Encoding encoding;
        std::function<void(BodyPtr)> done;
    };
    std::vector<Waiter> waiters;
    bool workerRunning = false;

    // The chunks: held by whoever builds (lock order: buildMutex, then stateMutex).
    QMutex buildMutex;
    Chunks topics;
    Chunks facts;
    ViewUpdate header; // the non-entry fields of the last update applied
    quint64 nextSerial = 0;
    quint64 updatesApplied = 0;
    Deflater deflater;
    Deflated head, middle, separator;
    bool constantsDeflated = false;
    Counters counters;

    // Last: destroyed first, waiting for a running build.
    QThreadPool pool;

    Impl()
    {
        // One worker, kept: a build never waits for a thread to start.
        pool.setMaxThreadCount(1);
        pool.setExpiryTimeout(-1);
    }

    static int index(Encoding e) { return e == Encoding::Gzip ? 1 : 0; }

    qsizetype keyCount() const { return qsizetype(topics.size() + facts.size()) * ChunkTarget; }

    // Holding buildMutex.
    void applyUpdate(ViewUpdate u)
    {
        if (u.full) {
            rebuild(topics, u.topics, true);
            rebuild(facts, u.facts, false);
            ++counters.fullBuilds;
        } else {
            ++updatesApplied;
            applyEntries(topics, u.topics,
                         {true, updatesApplied, &nextSerial, &counters.chunksPatched});
            applyEntries(facts, u.facts,
                         {false, updatesApplied, &nextSerial, &counters.chunksPatched});
        }
        u.topics.clear();
        u.facts.clear();
        header = std::move(u);
    }

    // Holding buildMutex: the chunks take what was published since the last build.
    void applyPublished()
    {
        ViewUpdate u;
        bool has = false;
        {
            QMutexLocker lock(&stateMutex);
            has = hasPending;
            if (has)
                u = std::move(pending);
            pending = {};
            hasPending = false;
        }
        if (has)
            applyUpdate(std::move(u));
    }

    // Holding stateMutex: the cached answer when it reflects every update published.
    BodyPtr readyLocked(Encoding e) const
    {
        const int i = index(e);
        return built[i] && builtFrom[i] == published ? built[i] : nullptr;
    }

    // Holding buildMutex: the answer for everything published so far.
    BodyPtr build(Encoding e)
    {
        ViewUpdate u;
        bool has = false;
        quint64 target = 0;
        {
            QMutexLocker lock(&stateMutex);
            if (BodyPtr b = readyLocked(e))
                return b;
            has = hasPending;
            if (has)
                u = std::move(pending);
            pending = {};
            hasPending = false;
            target = published;
        }
        if (has)
            applyUpdate(std::move(u));
        BodyPtr body = e == Encoding::Gzip ? assembleGzip() : assemblePlain();
        ++counters.answersBuilt;
        QMutexLocker lock(&stateMutex);
        const int i = index(e);
        if (!built[i] || target >= builtFrom[i]) {
            built[i] = body;
            builtFrom[i] = target;
        }
        return body;
    }

    void serializeRange(Chunks &chunks, size_t first, size_t end, bool withValues)
    {
        for (size_t k = first; k < end; ++k) {
            Chunk &c = chunks[k];
            if (!c.jsonValid) {
                serialize(c, withValues, ++nextSerial);
                ++counters.chunksSerialized;
            }
        }
    }

    // The plain blocks of a section, re-joining those with a changed chunk.
    void plainBlocks(Chunks &chunks, bool withValues, QList<QByteArray> *pieces, qsizetype *size)
    {
        forBlocks(chunks, [&](size_t first, size_t end, bool lead) {
            serializeRange(chunks, first, end, withValues);
            Chunk &start = chunks[first];
            if (!sameBlock(start.plainBlockOf, chunks, first, end, lead)) {
                qsizetype bytes = lead ? 1 : 0;
                for (size_t k = first; k < end; ++k)
                    bytes += chunks[k].json.size() + 1;
                QByteArray block; // a new buffer: answers already handed out keep the old one
                block.reserve(bytes);
                for (size_t k = first; k < end; ++k) {
                    if (lead || k != first)
                        block.append(Separator);
                    block.append(chunks[k].json);
                }
                start.plainBlock = std::move(block);
                start.plainBlockOf = blockKey(chunks, first, end, lead);
                ++counters.blocksJoined;
            }
            pieces->append(start.plainBlock);
            *size += start.plainBlock.size();
        });
    }

    BodyPtr assemblePlain()
    {
        auto body = std::make_shared<Body>();
        body->sequence = header.sequence;
        QList<QByteArray> &pieces = body->pieces;
        pieces.reserve(qsizetype(topics.size() + facts.size()) / BlockChunks + 8);
        qsizetype size = Head.size() + Middle.size();
        pieces.append(Head);
        plainBlocks(topics, true, &pieces, &size);
        pieces.append(Middle);
        plainBlocks(facts, false, &pieces, &size);
        QByteArray tail = tailOf(header);
        size += tail.size();
        pieces.append(std::move(tail));
        body->size = size;
        body->plainSize = size;
        return body;
    }

    // The gzip blocks of a section (deflating changed chunks first); adds to the CRC.
    void gzipBlocks(Chunks &chunks, bool withValues, QList<QByteArray> *pieces, qsizetype *size,
                    uLong *crc, qsizetype *plainSize)
    {
        forBlocks(chunks, [&](size_t first, size_t end, bool lead) {
            serializeRange(chunks, first, end, withValues);
            Chunk &start = chunks[first];
            // A block joined from the same serials holds every member's current gzip piece.
            if (!sameBlock(start.gzBlockOf, chunks, first, end, lead)) {
                for (size_t k = first; k < end; ++k) {
                    Chunk &c = chunks[k];
                    if (!c.gzValid) {
                        const Deflated d = deflater.piece(c.json);
                        c.gz = d.bytes;
                        c.crc = d.crc;
                        c.gzValid = true;
                        ++counters.chunksDeflated;
                    }
                }
                qsizetype bytes = 0;
                for (size_t k = first; k < end; ++k)
                    bytes += chunks[k].gz.size() + separator.bytes.size();
                QByteArray block;
                block.reserve(bytes + separator.bytes.size());
                uLong blockCrc = crc32(0L, Z_NULL, 0);
                qsizetype length = 0;
                for (size_t k = first; k < end; ++k) {
                    if (lead || k != first) {
                        block.append(separator.bytes);
                        blockCrc =
                            crc32_combine(blockCrc, separator.crc, z_off_t(Separator.size()));
                        length += Separator.size();
                    }
                    const Chunk &c = chunks[k];
                    block.append(c.gz);
                    blockCrc = crc32_combine(blockCrc, c.crc, z_off_t(c.json.size()));
                    length += c.json.size();
                }
                start.gzBlock = std::move(block);
                start.gzBlockCrc = quint32(blockCrc);
                start.gzBlockLength = length;
                start.gzBlockOf = blockKey(chunks, first, end, lead);
                ++counters.blocksJoined;
            }
            pieces->append(start.gzBlock);
            *size += start.gzBlock.size();
            *crc = crc32_combine(*crc, start.gzBlockCrc, z_off_t(start.gzBlockLength));
            *plainSize += start.gzBlockLength;
        });
    }

    BodyPtr assembleGzip()
    {
        if (!constantsDeflated) {
            head = deflater.piece(Head);
            middle = deflater.piece(Middle);
            separator = deflater.piece(Separator);
            constantsDeflated = true;
        }
        auto body = std::make_shared<Body>();
        body->sequence = header.sequence;
        QList<QByteArray> &pieces = body->pieces;
        pieces.reserve(qsizetype(topics.size() + facts.size()) / BlockChunks + 8);
        uLong crc = crc32_combine(crc32(0L, Z_NULL, 0), head.crc, z_off_t(Head.size()));
        qsizetype plainSize = Head.size();
        qsizetype size = 0;
        const auto put = [&](QByteArray piece) {
            size += piece.size();
            pieces.append(std::move(piece));
        };
        put(GzipHeader + head.bytes);
        gzipBlocks(topics, true, &pieces, &size, &crc, &plainSize);
        crc = crc32_combine(crc, middle.crc, z_off_t(Middle.size()));
        plainSize += Middle.size();
        put(middle.bytes);
        gzipBlocks(facts, false, &pieces, &size, &crc, &plainSize);
        const QByteArray tail = tailOf(header);
        const Deflated t = deflater.piece(tail);
        crc = crc32_combine(crc, t.crc, z_off_t(tail.size()));
        plainSize += tail.size();
        QByteArray last = t.bytes + FinalBlock;
        appendLE(&last, quint32(crc));
        appendLE(&last, quint32(plainSize)); // modulo 2^32, as the format says
        put(std::move(last));
        body->size = size;
        body->plainSize = plainSize;
        return body;
    }

    // The worker thread: builds for the requests waiting, until none waits.
    void work()
    {
        for (;;) {
            std::vector<Waiter> batch;
            {
                QMutexLocker lock(&stateMutex);
                if (waiters.empty()) {
                    workerRunning = false;
                    return;
                }
                batch.swap(waiters);
            }
            BodyPtr bodies[2];
            {
                QMutexLocker lock(&buildMutex);
                for (const Waiter &w : batch) {
                    const int i = index(w.encoding);
                    if (!bodies[i]) {
                        bodies[i] = build(w.encoding);
                        ++counters.workerBuilds;
                    }
                }
            }
            for (const Waiter &w : batch)
                w.done(bodies[index(w.encoding)]);
        }
    }
};

QByteArray PullAnswer::Body::joined() const
{
    QByteArray out;
    out.reserve(size);
    for (const QByteArray &p : pieces)
        out.append(p);
    return out;
}

PullAnswer::PullAnswer()
    : d(std::make_unique<Impl>())
{}

PullAnswer::~PullAnswer()
{
    d->pool.waitForDone();
}

void PullAnswer::publish(ViewUpdate update)
{
    QMutexLocker lock(&d->stateMutex);
    if (!d->hasPending || update.full) {
        d->pending = std::move(update);
    } else {
        ViewUpdate &p = d->pending;
        std::move(update.topics.begin(), update.topics.end(), std::back_inserter(p.topics));
        std::move(update.facts.begin(), update.facts.end(), std::back_inserter(p.facts));
        update.topics.clear();
        update.facts.clear();
        const bool full = p.full;
        std::vector<ViewEntry> topics = std::move(p.topics);
        std::vector<ViewEntry> facts = std::move(p.facts);
        p = std::move(update);
        p.full = full;
        p.topics = std::move(topics);
        p.facts = std::move(facts);
    }
    d->hasPending = true;
    ++d->published;
    // Nobody asked for a while: apply what waits, so the queue stays bounded (the chunks
    // are serialized only when an answer is asked for). Not while a build runs: that one
    // takes the queue.
    const qsizetype waiting = qsizetype(d->pending.topics.size() + d->pending.facts.size());
    if (waiting > std::max<qsizetype>(65536, 2 * d->keyCount()) && d->buildMutex.tryLock()) {
        ViewUpdate u = std::move(d->pending);
        d->pending = {};
        d->hasPending = false;
        d->applyUpdate(std::move(u));
        d->buildMutex.unlock();
    }
}

PullAnswer::BodyPtr PullAnswer::ready(Encoding encoding)
{
    QMutexLocker lock(&d->stateMutex);
    return d->readyLocked(encoding);
}

PullAnswer::BodyPtr PullAnswer::plain()
{
    if (BodyPtr b = ready(Encoding::Plain))
        return b;
    QMutexLocker lock(&d->buildMutex);
    return d->build(Encoding::Plain);
}

PullAnswer::BodyPtr PullAnswer::gzip()
{
    if (BodyPtr b = ready(Encoding::Gzip))
        return b;
    QMutexLocker lock(&d->buildMutex);
    return d->build(Encoding::Gzip);
}

void PullAnswer::request(Encoding encoding, std::function<void(BodyPtr)> done)
{
    BodyPtr now;
    bool start = false;
    {
        QMutexLocker lock(&d->stateMutex);
        now = d->readyLocked(encoding);
        if (!now) {
            d->waiters.push_back({encoding, std::move(done)});
            start = !d->workerRunning;
            d->workerRunning = true;
        }
    }
    if (now)
        done(std::move(now));
    else if (start)
        d->pool.start([impl = d.get()] { impl->work(); });
}

void PullAnswer::waitForIdle()
{
    d->pool.waitForDone();
}

PullAnswer::FactsPage PullAnswer::facts(qint64 offset, qint64 limit, const QString &contains)
{
    QMutexLocker lock(&d->buildMutex);
    d->applyPublished();
    FactsPage page;
    offset = std::max<qint64>(0, offset);
    limit = std::max<qint64>(0, limit);
    if (contains.isEmpty()) {
        // Whole chunks are skipped by their size: a page deep in a million facts costs a
        // walk over the chunks, not over the facts.
        for (const Chunk &chunk : d->facts) {
            const qint64 size = qint64(chunk.keys.size());
            const qint64 from = std::max<qint64>(0, offset - page.total);
            const qint64 wanted = limit - qint64(page.facts.size());
            if (from < size && wanted > 0) {
                const auto begin = chunk.keys.begin() + from;
                page.facts.insert(page.facts.end(), begin,
                                  begin + std::min<qint64>(size - from, wanted));
            }
            page.total += size;
        }
        return page;
    }
    // QString::contains(Qt::CaseInsensitive), faster on fact hashes: with an ASCII needle,
    // a fact of lower-case ASCII only can match only the lowered needle exactly
    // (QStringMatcher's case-sensitive search); every other fact goes through contains()
    // itself (Qt 6.8's case-insensitive QStringMatcher misses astral characters). Runs off
    // the HTTP thread (CoordinatorApi::listFacts).
    const bool asciiNeedle =
        std::all_of(contains.begin(), contains.end(), [](QChar c) { return c.unicode() < 0x80; });
    const QStringMatcher exact(contains.toLower(), Qt::CaseSensitive);
    const auto matches = [&](const QString &fact) {
        if (asciiNeedle) {
            if (exact.indexIn(QStringView(fact)) >= 0)
                return true;
            const bool plain = std::all_of(fact.begin(), fact.end(), [](QChar c) {
                return c.unicode() < 0x80 && (c.unicode() < u'A' || c.unicode() > u'Z');
            });
            if (plain)
                return false;
        }
        return fact.contains(contains, Qt::CaseInsensitive);
    };
    for (const Chunk &chunk : d->facts) {
        for (const QString &fact : chunk.keys) {
            if (!matches(fact))
                continue;
            if (page.total >= offset && qint64(page.facts.size()) < limit)
                page.facts.push_back(fact);
            ++page.total;
        }
    }
    return page;
}

PullAnswer::Counters PullAnswer::counters()
{
    QMutexLocker lock(&d->buildMutex);
    return d->counters;
}

} // namespace agmem
