#include "pullanswer.h"

#include "jsonwriter.h"
#include "mergeengine.h"

#include <QMutexLocker>

#include <zlib.h>

#include <algorithm>

namespace agmem {

struct PullAnswer::Chunk
{
    std::vector<QString> keys;
    std::vector<qint64> values; // topics only
    QByteArray json;
    bool jsonValid = false;
    QByteArray gz;
    quint32 crc = 0;
    bool gzValid = false;

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
                            Z_DEFAULT_STRATEGY) == Z_OK;
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
        if (chunks.empty() || qsizetype(chunks.back().keys.size()) >= PullAnswer::ChunkTarget)
            chunks.emplace_back();
        Chunk &c = chunks.back();
        c.keys.push_back(std::move(e.key));
        if (withValues)
            c.values.push_back(e.value);
    }
}

void applyOne(Chunks &chunks, ViewEntry &e, bool withValues)
{
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
                c.touch();
            }
            return;
        }
        c.keys.insert(pos, std::move(e.key));
        if (withValues)
            c.values.insert(c.values.begin() + qsizetype(index), e.value);
        c.touch();
        if (qsizetype(c.keys.size()) >= 2 * PullAnswer::ChunkTarget) {
            // Split in two halves.
            Chunk tail;
            const auto half = qsizetype(c.keys.size()) / 2;
            tail.keys.assign(std::make_move_iterator(c.keys.begin() + half),
                             std::make_move_iterator(c.keys.end()));
            c.keys.resize(size_t(half));
            if (withValues) {
                tail.values.assign(c.values.begin() + half, c.values.end());
                c.values.resize(size_t(half));
            }
            chunks.insert(it + 1, std::move(tail));
        }
        return;
    }
    if (!found)
        return;
    c.keys.erase(pos);
    if (withValues)
        c.values.erase(c.values.begin() + qsizetype(index));
    c.touch();
    if (c.keys.empty()) {
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
        chunks.erase(next);
    }
}

void apply(Chunks &chunks, std::vector<ViewEntry> &entries, bool withValues)
{
    lastPerKey(entries);
    for (ViewEntry &e : entries)
        applyOne(chunks, e, withValues);
}

void serialize(Chunk &c, bool withValues)
{
    QByteArray out; // a new buffer: answers already handed out keep the old one
    qsizetype bytes = 0;
    for (const QString &k : c.keys)
        bytes += k.size() + 4 + (withValues ? 20 : 0);
    out.reserve(bytes);
    for (size_t i = 0; i < c.keys.size(); ++i) {
        if (i)
            out.append(',');
        JsonWriter::appendString(&out, c.keys[i]);
        if (withValues)
            out.append(':').append(QByteArray::number(c.values[i]));
    }
    c.json = std::move(out);
    c.jsonValid = true;
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
    QMutex mutex;
    ViewUpdate pending;
    bool hasPending = false;
    Chunks topics;
    Chunks facts;
    ViewUpdate header; // the non-entry fields of the last update applied
    quint64 version = 0;
    BodyPtr plainBody;
    quint64 plainVersion = ~quint64(0);
    BodyPtr gzipBody;
    quint64 gzipVersion = ~quint64(0);
    Deflater deflater;
    Deflated head, middle, separator;
    bool constantsDeflated = false;
    Counters counters;

    qsizetype keyCount() const { return qsizetype(topics.size() + facts.size()) * ChunkTarget; }

    void applyPending()
    {
        if (!hasPending)
            return;
        hasPending = false;
        ViewUpdate u = std::move(pending);
        pending = {};
        if (u.full) {
            rebuild(topics, u.topics, true);
            rebuild(facts, u.facts, false);
            ++counters.fullBuilds;
        } else {
            apply(topics, u.topics, true);
            apply(facts, u.facts, false);
        }
        u.topics.clear();
        u.facts.clear();
        header = std::move(u);
        ++version;
    }

    // The plain pieces in order; serializes what changed.
    QList<QByteArray> plainPieces()
    {
        QList<QByteArray> pieces;
        pieces.reserve(qsizetype(topics.size() + facts.size()) * 2 + 4);
        pieces.append(Head);
        const auto add = [&](Chunks &chunks, bool withValues) {
            bool first = true;
            for (Chunk &c : chunks) {
                if (!c.jsonValid) {
                    serialize(c, withValues);
                    ++counters.chunksSerialized;
                }
                if (!first)
                    pieces.append(Separator);
                first = false;
                pieces.append(c.json);
            }
        };
        add(topics, true);
        pieces.append(Middle);
        add(facts, false);
        pieces.append(tailOf(header));
        return pieces;
    }

    BodyPtr plain()
    {
        applyPending();
        if (plainBody && plainVersion == version)
            return plainBody;
        auto body = std::make_shared<Body>();
        body->sequence = header.sequence;
        body->pieces = plainPieces();
        qsizetype size = 0;
        for (const QByteArray &p : body->pieces)
            size += p.size();
        body->bytes.reserve(size);
        for (const QByteArray &p : body->pieces)
            body->bytes.append(p);
        body->plainSize = size;
        plainBody = std::move(body);
        plainVersion = version;
        return plainBody;
    }

    BodyPtr gzip()
    {
        applyPending();
        if (gzipBody && gzipVersion == version)
            return gzipBody;
        if (!constantsDeflated) {
            head = deflater.piece(Head);
            middle = deflater.piece(Middle);
            separator = deflater.piece(Separator);
            constantsDeflated = true;
        }
        plainPieces(); // brings every chunk's JSON up to date
        auto body = std::make_shared<Body>();
        body->sequence = header.sequence;
        QList<QByteArray> &pieces = body->pieces;
        pieces.reserve(qsizetype(topics.size() + facts.size()) * 2 + 8);
        uLong crc = crc32(0L, Z_NULL, 0);
        qsizetype plainSize = 0;
        const auto put = [&](const QByteArray &gz, quint32 pieceCrc, qsizetype length) {
            pieces.append(gz);
            crc = crc32_combine(crc, pieceCrc, z_off_t(length));
            plainSize += length;
        };
        pieces.append(GzipHeader);
        put(head.bytes, head.crc, Head.size());
        const auto add = [&](Chunks &chunks) {
            bool first = true;
            for (Chunk &c : chunks) {
                if (!c.gzValid) {
                    const Deflated d = deflater.piece(c.json);
                    c.gz = d.bytes;
                    c.crc = d.crc;
                    c.gzValid = true;
                    ++counters.chunksDeflated;
                }
                if (!first)
                    put(separator.bytes, separator.crc, Separator.size());
                first = false;
                put(c.gz, c.crc, c.json.size());
            }
        };
        add(topics);
        put(middle.bytes, middle.crc, Middle.size());
        add(facts);
        const QByteArray tail = tailOf(header);
        const Deflated t = deflater.piece(tail);
        put(t.bytes, t.crc, tail.size());
        QByteArray trailer = FinalBlock;
        appendLE(&trailer, quint32(crc));
        appendLE(&trailer, quint32(plainSize)); // modulo 2^32, as the format says
        pieces.append(trailer);
        qsizetype size = 0;
        for (const QByteArray &p : pieces)
            size += p.size();
        body->bytes.reserve(size);
        for (const QByteArray &p : pieces)
            body->bytes.append(p);
        body->plainSize = plainSize;
        gzipBody = std::move(body);
        gzipVersion = version;
        return gzipBody;
    }
};

PullAnswer::PullAnswer()
    : d(std::make_unique<Impl>())
{}

PullAnswer::~PullAnswer() = default;

void PullAnswer::publish(ViewUpdate update)
{
    QMutexLocker lock(&d->mutex);
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
    // Nobody asked for a while: apply what waits, so the queue stays bounded (the chunks
    // are serialized only when an answer is asked for).
    const qsizetype waiting = qsizetype(d->pending.topics.size() + d->pending.facts.size());
    if (waiting > std::max<qsizetype>(65536, 2 * d->keyCount()))
        d->applyPending();
}

PullAnswer::BodyPtr PullAnswer::plain()
{
    QMutexLocker lock(&d->mutex);
    return d->plain();
}

PullAnswer::BodyPtr PullAnswer::gzip()
{
    QMutexLocker lock(&d->mutex);
    return d->gzip();
}

PullAnswer::FactsPage PullAnswer::facts(qint64 offset, qint64 limit, const QString &contains)
{
    QMutexLocker lock(&d->mutex);
    d->applyPending();
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
    for (const Chunk &chunk : d->facts) {
        for (const QString &fact : chunk.keys) {
            if (!fact.contains(contains, Qt::CaseInsensitive))
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
    QMutexLocker lock(&d->mutex);
    return d->counters;
}

} // namespace agmem
