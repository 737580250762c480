#pragma once

#include "core/mergeengine.h"
#include "core/timestamp.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <deque>
#include <memory>
#include <optional>

class QSocketNotifier;
class QTcpSocket;

namespace agmem {

// One thing that happened to the merged view, as GET /events tells it. Built from what the
// write path did (its outcome), never by reading the database back.
struct ChangeEvent
{
    enum class Kind
    {
        Push,
        AgentRemoved,
        Reset,
    };
    // Facts listed per event and direction; beyond it only the count is sent.
    static constexpr int MaxListedFacts = 100;

    Kind kind = Kind::Push;
    // The merge's change sequence after this event (the /pull ETag's number).
    quint64 sequence = 0;
    QString agentId;
    // Push: the summary's own timestamp; 0 when unknown.
    Instant timestamp = 0;
    // Push: when it arrived; removal and reset: when they were committed.
    Instant receivedAt = 0;
    // Push: false for a stale or repeated summary (stored, the merge unchanged).
    bool changesMerge = false;
    // Push: how each merged topic count changed (sorted by topic; zero deltas left out).
    QList<QPair<QString, qint64>> topicDeltas;
    // Push: facts the agent's contribution gained and lost, at most MaxListedFacts each.
    QStringList factsAdded;
    QStringList factsRemoved;
    qint64 factsAddedCount = 0;
    qint64 factsRemovedCount = 0;
    // False when the change came from another instance through the catch-up (PostgreSQL):
    // the deltas are then unknown and left empty.
    bool local = true;
    // Push: the agent's contribution before and after, kept (implicitly shared with the
    // merge engine, no copy) until the event is first formatted, when they give the deltas
    // and fact lists above. Computing those lists for every push cost the writer thread
    // ~1.5 ms per 1000 pushes even with no stream open, and most events are never sent.
    std::optional<Contribution> diffBefore;
    std::optional<Contribution> diffAfter;
    bool diffPending = false;

    // A push from its outcome: the agent's contribution before and after (after empty:
    // the merge did not change). The deltas and lists are left pending (resolveDiff()).
    static ChangeEvent push(const QString &agentId, const std::optional<Contribution> &before,
                            const std::optional<Contribution> &after, Instant timestamp,
                            Instant receivedAt, quint64 sequence);
    // Fills topicDeltas, factsAdded/Removed and their counts from the pending contributions
    // (and drops them). Nothing when none are pending.
    void resolveDiff();
    static ChangeEvent agentRemoved(const QString &agentId, quint64 sequence);
    static ChangeEvent reset(quint64 sequence);

    QString typeName() const;
    // The same, as a NUL-terminated ASCII literal.
    const char *typeKey() const;
    // The event's JSON object (one line); pending deltas are computed for it (not kept).
    QByteArray json() const;
    // The same, appended to `out`.
    void appendJson(QByteArray *out) const;
};

// Where the values of an SSE frame begin, as offsets from the frame's start: between two
// marks (and the frame's ends) lies one value and the constant text after it. Frames of one
// kind have the same marks, so one can be compressed as the differences from the one
// before it (FrameDeflate). A frame without marks (count 0) is one piece of text.
struct FrameLayout
{
    static constexpr int MaxMarks = 15;

    quint32 size = 0;
    quint8 count = 0;
    quint16 marks[MaxMarks] = {};
};

// Compresses SSE frames the way deflate does, but without searching: each value of a frame
// (FrameLayout) is matched against the same value of the last frame with as many marks (a
// common beginning and end refer back to it, the rest is written literally), in one block
// with Huffman codes made for it (or deflate's fixed ones, when shorter). An event differs
// from the one before it in a few characters: bench/push.lua's events take about 24 bytes
// each (zlib at level 1: about 22), for a fraction of zlib's work (which hashes every byte,
// and beyond 64 KiB slides its window).
// A piece refers to nothing before it and ends with a sync flush, so it can follow any other
// piece of a raw deflate stream (and zlib's pieces can follow it).
namespace FrameDeflate {
// `layouts` cover `frames` in order (their sizes add up to frames.size(); else the frames are
// written as literals only). Never empty.
QByteArray piece(QByteArrayView frames, const QList<FrameLayout> &layouts);
} // namespace FrameDeflate

// Recent events, shared by every /events stream of one server. Thread-safe: the write
// path publishes from its thread, streams read from theirs. Each event gets an id
// "<token>-<n>" (token: random per process), so a Last-Event-ID from before a restart is
// recognised and answered with a `reload` event instead of a silent gap.
class EventHub : public QObject
{
    Q_OBJECT

public:
    static constexpr int DefaultRingSize = 4096;

    explicit EventHub(int ringSize = DefaultRingSize, QObject *parent = nullptr);

    // The sequence before any event (the store's at start, or after a catch-up reload).
    void setSequence(quint64 sequence);
    // One call per commit batch; streams write the whole batch at once.
    void publish(QList<ChangeEvent> events);

    struct Resume
    {
        // The SSE frames to send (already formatted), in order.
        QByteArray frames;
        // The number of the newest event included; pass it to since() next time.
        quint64 last = 0;
        // Each frame's layout, when asked for (since(after, true)).
        QList<FrameLayout> layouts;
    };
    // Frames for a new stream: a `hello` event with the current sequence, then (when
    // `lastEventId` names an event still in the ring) every event after it, or (when it
    // does not) a `reload` event telling the client to read the state again.
    Resume open(const QByteArray &lastEventId) const;
    // Frames of the events after number `after`; a `reload` frame when some fell out of
    // the ring meanwhile. With `layouts`, each frame's FrameLayout too.
    Resume since(quint64 after, bool layouts = false) const;

    QByteArray token() const { return m_token; }
    quint64 sequence() const;

Q_SIGNALS:
    // New events are in the ring (queued to streams in other threads).
    void published();

private:
    struct Stored
    {
        quint64 number;
        ChangeEvent event;
        // The SSE frame, built when a stream first needs it (never, when no stream is
        // open or resumes this far back): publishing costs no formatting on the write path.
        // It is bytes [from, from + size) of `chunk`, the frames of the events formatted
        // together (one delivery's batch), which a stream standing just before them is sent
        // as it is: one buffer per batch, no frame allocated or copied on its own.
        mutable QByteArray chunk;
        mutable qsizetype from = 0;
        mutable qsizetype size = 0;
        // Where its values begin (its size is `size`).
        mutable FrameLayout layout;

        QByteArrayView frame() const { return QByteArrayView(chunk).sliced(from, size); }
    };
    // Builds the frames of the stored events in [first, last) that have none, into one new
    // chunk. Caller holds m_mutex.
    void formatFrames(std::deque<Stored>::const_iterator first,
                      std::deque<Stored>::const_iterator last) const;
    QByteArray idOf(quint64 number) const;
    void appendId(QByteArray *out, quint64 number) const;
    QByteArray reloadFrame(const QString &reason) const;
    QByteArray helloFrame(bool resumed) const;
    // Caller holds m_mutex.
    Resume sinceLocked(quint64 after, bool layouts) const;

    const int m_ringSize;
    const QByteArray m_token;
    mutable QMutex m_mutex;
    std::deque<Stored> m_ring;
    quint64 m_next = 1;
    quint64 m_sequence = 0;
};

// The open /events streams of one HTTP thread: writes each published batch to every
// stream in one write, sends heartbeats, and drops a client that stops reading. The
// transport (ApiServer) hands over sockets after writing the response head.
//
// What a stream costs is the bytes: every event goes to every stream, so 64 streams write
// 64 times each event's ~400 bytes, and on one machine the kernel's copying of them is
// most of the cost. A batch is therefore formatted once and written as one shared
// QByteArray to every stream standing at the same event, at most every CoalesceMs; and a
// client that accepts gzip (browsers do) gets the batch compressed once for all such
// streams (about 15 times smaller): a gzip stream whose body is a series of raw deflate
// pieces, each compressed on its own and ended with a sync flush, so one piece can follow
// any earlier ones. A batch is compressed by FrameDeflate (each frame against the one
// before it); a new stream's first frames and the heartbeat by zlib. A batch goes
// straight to a plain socket's kernel buffer when nothing waits in Qt's.
class EventStreams : public QObject
{
    Q_OBJECT

public:
    static constexpr int DefaultMaxStreams = 128;
    // nginx closes a proxied connection silent for 60 s by default (proxy_read_timeout),
    // and many setups use 30 s: a comment line every 15 s keeps well inside both.
    static constexpr int DefaultHeartbeatMs = 15000;
    // A client with this much unsent data is dropped (it resumes with Last-Event-ID).
    static constexpr qint64 MaxBufferedBytes = 4 * 1024 * 1024;
    // Under load, commit batches that follow each other within this long are written
    // together: each stream costs at most 10 writes a second, however fast pushes come.
    // With 64 streams under a push flood each write (a syscall, the loopback's TCP work and
    // the reader's wake-up) was the largest cost left (50 ms: ~4 % of the HTTP thread in
    // the kernel's write); 100 ms is still well below what a person watching notices.
    static constexpr int CoalesceMs = 100;
    // A client that closed its stream is noticed within about this long.
    static constexpr int ProbeIntervalMs = 1000;
    static constexpr int ProbeWindowMs = 20;

    EventStreams(EventHub *hub, int maxStreams, int heartbeatMs, QObject *parent = nullptr);
    ~EventStreams() override;

    bool full() const { return m_streams.size() >= m_maxStreams; }
    int count() const { return int(m_streams.size()); }
    int maxStreams() const { return m_maxStreams; }

    // The response head of a stream (status line and headers; `extra` adds CORS and the
    // Content-Encoding of streamHeaders()).
    static QByteArray responseHead(const QList<QPair<QByteArray, QByteArray>> &extra);
    // The headers a stream's answer starts with: gzip when the client accepts it.
    static QList<QPair<QByteArray, QByteArray>> streamHeaders(bool acceptsGzip);
    // Whether `headers` (from streamHeaders()) say gzip.
    static bool gzipped(const QList<QPair<QByteArray, QByteArray>> &headers);
    // Starts streaming to `socket`, whose response head was written; `gzip` as gzipped()
    // of that head.
    void open(QTcpSocket *socket, const QByteArray &lastEventId, bool gzip = false);
    void closeAll();

private:
    struct Stream
    {
        QPointer<QTcpSocket> socket;
        quint64 last = 0;
        bool gzip = false;
        // The socket's read notifiers (the TCP socket's, beneath TLS too): off except
        // while probing, see probe().
        QList<QPointer<QSocketNotifier>> readNotifiers;
    };
    class Deflater;
    void published();
    void deliver();
    void heartbeat();
    // A stream's client sends nothing, so its socket need not be in every poll of the
    // event loop (64 streams made each pass poll 64 more descriptors: ~10% more CPU per
    // push). Every ProbeIntervalMs its read notifiers are on for ProbeWindowMs, long
    // enough for one poll to see a client that has gone.
    void probe(bool on);
    void write(Stream &stream, const QByteArray &bytes);

    EventHub *m_hub;
    int m_maxStreams;
    QHash<QTcpSocket *, Stream> m_streams;
    QTimer m_heartbeat;
    QTimer m_probe;
    QTimer m_probeEnd;
    QTimer m_coalesce;
    QElapsedTimer m_sinceDelivery;
    std::unique_ptr<Deflater> m_deflater;
    // ": keep-alive" as a deflate piece.
    QByteArray m_gzipHeartbeat;
};

} // namespace agmem
