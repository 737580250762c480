// GET /events over real sockets: the stream's head, the first event, one event per push
// (deltas, bounded fact lists), removals and resets, resuming with Last-Event-ID, a ring
// too small to resume from, the cap on streams, the idle timeout that streams are exempt
// from, the pull scope with API keys, heartbeats (interval injected), and the gzip stream
// for clients that accept it (browsers).

#include "testsupport.h"

#include "core/timestamp.h"
#include "server/coordinatorapi.h"
#include "server/eventhub.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <zlib.h>

using namespace agmem;
using namespace agmem::test;
using namespace Qt::StringLiterals;

namespace {

int push(quint16 port, const QString &agent, const QString &timestamp, const QJsonObject &topics,
         const QStringList &facts = {}, const RawHeaders &headers = {})
{
    RawHeaders h = headers;
    h.append({QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")});
    return httpExchange(
               port, buildRequest("POST", "/push", summaryBody(agent, timestamp, topics, facts), h))
        .status;
}

// A raw deflate stream (no header) inflated, as far as it goes; `ok` when every byte was
// read and nothing failed.
QByteArray inflateRaw(const QByteArray &data, bool *ok)
{
    *ok = false;
    z_stream z = {};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
        return {};
    QByteArray out;
    QByteArray buffer(1 << 16, Qt::Uninitialized);
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    z.avail_in = uInt(data.size());
    int rc = Z_OK;
    do {
        z.next_out = reinterpret_cast<Bytef *>(buffer.data());
        z.avail_out = uInt(buffer.size());
        rc = inflate(&z, Z_SYNC_FLUSH);
        out.append(buffer.constData(), buffer.size() - qsizetype(z.avail_out));
    } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
    *ok = (rc == Z_OK || rc == Z_BUF_ERROR) && z.avail_in == 0;
    inflateEnd(&z);
    return out;
}

// A piece of zlib's, as EventStreams::Deflater makes them: raw deflate, sync-flushed.
QByteArray zlibPiece(const QByteArray &data)
{
    z_stream z = {};
    if (deflateInit2(&z, 1, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    QByteArray out(qsizetype(deflateBound(&z, uLong(data.size()))) + 16, Qt::Uninitialized);
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    z.avail_in = uInt(data.size());
    z.next_out = reinterpret_cast<Bytef *>(out.data());
    z.avail_out = uInt(out.size());
    const int rc = deflate(&z, Z_SYNC_FLUSH);
    out.resize(rc == Z_OK ? out.size() - qsizetype(z.avail_out) : 0);
    deflateEnd(&z);
    return out;
}

struct Event
{
    QByteArray id;
    QByteArray type;
    QJsonObject data;
    bool comment = false;
};

// An event's data as QJsonDocument writes it (what ChangeEvent::json() wrote before it
// wrote the text itself): the oracle for eventTextAsQJsonDocument.
QByteArray viaQJsonDocument(const ChangeEvent &e)
{
    const bool push = e.kind == ChangeEvent::Kind::Push;
    QJsonObject o{
        {u"type"_s, e.typeName()}, {u"sequence"_s, qint64(e.sequence)}, {u"local"_s, e.local}};
    if (e.receivedAt)
        o.insert(push ? u"received_at"_s : u"at"_s, formatIsoTimestamp(e.receivedAt));
    if (e.kind != ChangeEvent::Kind::Reset)
        o.insert(u"agent_id"_s, e.agentId);
    if (push) {
        o.insert(u"timestamp"_s,
                 e.timestamp ? QJsonValue(formatIsoTimestamp(e.timestamp)) : QJsonValue::Null);
        o.insert(u"changed"_s, e.changesMerge);
        QJsonObject deltas;
        for (const auto &[topic, delta] : e.topicDeltas)
            deltas.insert(topic, delta);
        o.insert(u"topic_deltas"_s, deltas);
        o.insert(u"facts_added"_s, QJsonArray::fromStringList(e.factsAdded));
        o.insert(u"facts_removed"_s, QJsonArray::fromStringList(e.factsRemoved));
        o.insert(u"facts_added_count"_s, e.factsAddedCount);
        o.insert(u"facts_removed_count"_s, e.factsRemovedCount);
    }
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// A client of GET /events on a raw socket: reads the head, then one event at a time.
class EventClient
{
public:
    EventClient() = default;
    EventClient(const EventClient &) = delete;
    EventClient &operator=(const EventClient &) = delete;
    ~EventClient()
    {
        if (m_gzip)
            inflateEnd(&m_z);
    }

    bool open(quint16 port, const RawHeaders &headers = {})
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!m_socket.waitForConnected(10000))
            return false;
        QByteArray request =
            "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
        for (const auto &[name, value] : headers)
            request += name + ": " + value + "\r\n";
        m_socket.write(request + "\r\n");
        QElapsedTimer timer;
        timer.start();
        while (!m_buffer.contains("\r\n\r\n")) {
            if (timer.hasExpired(10000) || !readMore(10000 - int(timer.elapsed())))
                return false;
        }
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        head = m_buffer.left(end + 2);
        m_buffer.remove(0, end + 4);
        status = head.mid(9, 3).toInt();
        if (header("content-encoding") == "gzip") {
            // The body is a gzip stream without an end: inflate as it comes.
            m_gzip = inflateInit2(&m_z, 16 + MAX_WBITS) == Z_OK;
            const QByteArray body = std::exchange(m_buffer, {});
            if (!m_gzip || !decode(body))
                return false;
        }
        return true;
    }

    QByteArray header(const QByteArray &name) const
    {
        for (const QByteArray &line : head.split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
                return line.mid(colon + 1).trimmed();
        }
        return {};
    }

    // The next event (comments too when `comments`); nullopt after `timeoutMs`.
    std::optional<Event> next(int timeoutMs = 10000, bool comments = false)
    {
        QElapsedTimer timer;
        timer.start();
        for (;;) {
            qsizetype end;
            while ((end = m_buffer.indexOf("\n\n")) >= 0) {
                const QByteArray frame = m_buffer.left(end);
                m_buffer.remove(0, end + 2);
                Event e;
                QByteArray data;
                for (const QByteArray &line : frame.split('\n')) {
                    if (line.startsWith(':')) {
                        e.comment = true;
                        continue;
                    }
                    if (line.startsWith("id: "))
                        e.id = line.mid(4);
                    else if (line.startsWith("event: "))
                        e.type = line.mid(7);
                    else if (line.startsWith("data: "))
                        data += line.mid(6);
                }
                if (e.comment && e.type.isEmpty() && !comments)
                    continue;
                e.data = QJsonDocument::fromJson(data).object();
                return e;
            }
            const int left = timeoutMs - int(timer.elapsed());
            if (left <= 0 || !readMore(left))
                return std::nullopt;
        }
    }

    bool connected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    // True once the server closed the connection (within `timeoutMs`).
    bool waitClosed(int timeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        while (m_socket.state() == QAbstractSocket::ConnectedState && !timer.hasExpired(timeoutMs))
            m_socket.waitForReadyRead(100);
        return m_socket.state() != QAbstractSocket::ConnectedState;
    }
    void close() { m_socket.abort(); }
    QByteArray rest() const { return m_buffer; }
    // Body bytes as they came over the wire, and after decoding.
    qint64 wireBytes() const { return m_wireBytes; }
    qint64 decodedBytes() const { return m_decodedBytes; }
    // False once the gzip body did not decode.
    bool decodedCleanly() const { return m_decodeError.isEmpty(); }
    QByteArray decodeError() const { return m_decodeError; }

    QByteArray head;
    int status = 0;

private:
    bool readMore(int timeoutMs)
    {
        if (m_socket.bytesAvailable() == 0 && !m_socket.waitForReadyRead(qMax(1, timeoutMs)))
            return false;
        const QByteArray bytes = m_socket.readAll();
        if (head.isEmpty()) {
            m_buffer += bytes;
            return true;
        }
        return decode(bytes);
    }

    bool decode(const QByteArray &bytes)
    {
        m_wireBytes += bytes.size();
        if (!m_gzip) {
            m_decodedBytes += bytes.size();
            m_buffer += bytes;
            return true;
        }
        m_z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes.constData()));
        m_z.avail_in = uInt(bytes.size());
        while (m_z.avail_in > 0) {
            char out[16384];
            m_z.next_out = reinterpret_cast<Bytef *>(out);
            m_z.avail_out = sizeof out;
            const int result = inflate(&m_z, Z_SYNC_FLUSH);
            const qsizetype produced = qsizetype(sizeof out - m_z.avail_out);
            m_buffer.append(out, produced);
            m_decodedBytes += produced;
            // The stream never ends while it is open: Z_STREAM_END would be a final block.
            if (result != Z_OK && !(result == Z_BUF_ERROR && produced == 0)) {
                m_decodeError = "inflate: " + QByteArray::number(result);
                return false;
            }
        }
        return true;
    }

    QTcpSocket m_socket;
    QByteArray m_buffer;
    z_stream m_z{};
    bool m_gzip = false;
    qint64 m_wireBytes = 0;
    qint64 m_decodedBytes = 0;
    QByteArray m_decodeError;
};

#define NEXT_EVENT(client, type_, var)                                                             \
    const std::optional<Event> var##_ = (client).next();                                           \
    QVERIFY2(var##_, "no event arrived");                                                          \
    QCOMPARE(var##_->type, QByteArray(type_));                                                     \
    [[maybe_unused]] const Event &var = *var##_

} // namespace

class TestEvents : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void headAndFirstEvent();
    void pushEvents();
    void removalAndReset();
    void resumeWithLastEventId();
    void replayMatchesLive();
    void ringOverflowSaysReload();
    void capOnStreams();
    void exemptFromIdleTimeout();
    void pullScope();
    void heartbeat();
    void gzipStream();
    void otherInstances();
    void eventTextAsQJsonDocument_data();
    void eventTextAsQJsonDocument();
    void framesOfTheHub();
    void frameDeflate();
    void slowReaderGetsEverything();
};

void TestEvents::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TestEvents::headAndFirstEvent()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    const HttpResponse pull = httpGet(port, "/pull");
    VERIFY_STATUS(pull, 200);

    EventClient client;
    QVERIFY(client.open(port));
    QCOMPARE(client.status, 200);
    QVERIFY(client.header("content-type").startsWith("text/event-stream"));
    QCOMPARE(client.header("x-accel-buffering"), QByteArray("no"));
    QVERIFY(client.header("cache-control").contains("no-cache"));
    QVERIFY(client.header("content-length").isEmpty());
    NEXT_EVENT(client, "hello", hello);
    QVERIFY(!hello.id.isEmpty());
    QCOMPARE(hello.data[u"resumed"].toBool(true), false);
    // The sequence is the one in /pull's ETag.
    const qint64 sequence = hello.data[u"sequence"].toInteger(-1);
    QCOMPARE(sequence, 1);
    QVERIFY2(pull.header("etag").endsWith(QByteArray("-" + QByteArray::number(sequence) + '"')),
             pull.header("etag").constData());
    // HEAD and POST are not routes of /events.
    VERIFY_STATUS(httpExchange(port, buildRequest("POST", "/events", {}, {})), 405);
}

void TestEvents::pushEvents()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    EventClient client;
    QVERIFY(client.open(port));
    NEXT_EVENT(client, "hello", hello);

    QCOMPARE(push(port, u"alpha"_s, u"2025-01-01T00:00:00Z"_s, {{u"x"_s, 3}, {u"y"_s, 1}},
                  {u"f1"_s, u"f2"_s}),
             200);
    NEXT_EVENT(client, "push", first);
    QCOMPARE(first.data[u"agent_id"].toString(), u"alpha"_s);
    QCOMPARE(first.data[u"timestamp"].toString(), u"2025-01-01T00:00:00+00:00"_s);
    QVERIFY(!first.data[u"received_at"].toString().isEmpty());
    QCOMPARE(first.data[u"sequence"].toInteger(), 1);
    QCOMPARE(first.data[u"changed"].toBool(), true);
    QCOMPARE(first.data[u"topic_deltas"].toObject(), (QJsonObject{{u"x"_s, 3}, {u"y"_s, 1}}));
    QCOMPARE(first.data[u"facts_added"].toArray(), (QJsonArray{u"f1"_s, u"f2"_s}));
    QCOMPARE(first.data[u"facts_removed_count"].toInteger(), 0);
    QVERIFY(first.id != hello.id);

    // Newer summary: the deltas against the one it replaces.
    QCOMPARE(push(port, u"alpha"_s, u"2025-01-02T00:00:00Z"_s, {{u"x"_s, 1}, {u"z"_s, 2}},
                  {u"f2"_s, u"f3"_s}),
             200);
    NEXT_EVENT(client, "push", second);
    QCOMPARE(second.data[u"sequence"].toInteger(), 2);
    QCOMPARE(second.data[u"topic_deltas"].toObject(),
             (QJsonObject{{u"x"_s, -2}, {u"y"_s, -1}, {u"z"_s, 2}}));
    QCOMPARE(second.data[u"facts_added"].toArray(), (QJsonArray{u"f3"_s}));
    QCOMPARE(second.data[u"facts_removed"].toArray(), (QJsonArray{u"f1"_s}));

    // A stale push is stored and told, with the sequence unchanged.
    QCOMPARE(push(port, u"alpha"_s, u"2024-01-01T00:00:00Z"_s, {{u"x"_s, 9}}), 200);
    NEXT_EVENT(client, "push", stale);
    QCOMPARE(stale.data[u"changed"].toBool(true), false);
    QCOMPARE(stale.data[u"sequence"].toInteger(), 2);
    QCOMPARE(stale.data[u"topic_deltas"].toObject(), QJsonObject{});

    // Many facts: a bounded list, the full count.
    QStringList facts;
    for (int i = 0; i < 250; ++i)
        facts.append(u"fact-%1"_s.arg(i, 3, 10, QChar(u'0')));
    QCOMPARE(push(port, u"beta"_s, u"2025-01-01T00:00:00Z"_s, {{u"x"_s, 1}}, facts), 200);
    NEXT_EVENT(client, "push", many);
    QCOMPARE(many.data[u"facts_added_count"].toInteger(), 250);
    QCOMPARE(many.data[u"facts_added"].toArray().size(), 100);
    QCOMPARE(many.data[u"facts_added"].toArray().first().toString(), u"fact-000"_s);

    // A refused push makes no event.
    VERIFY_STATUS(httpPostJson(port, "/push", "{\"summary\": {}}"), 422);
    QCOMPARE(push(port, u"gamma"_s, u"2025-01-01T00:00:00Z"_s, {{u"q"_s, 1}}), 200);
    NEXT_EVENT(client, "push", after);
    QCOMPARE(after.data[u"agent_id"].toString(), u"gamma"_s);
}

void TestEvents::removalAndReset()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    EventClient client;
    QVERIFY(client.open(port));
    NEXT_EVENT(client, "hello", hello);
    QCOMPARE(hello.data[u"sequence"].toInteger(), 2);

    VERIFY_STATUS(httpExchange(port, buildRequest("DELETE", "/agents/a", {}, {})), 200);
    NEXT_EVENT(client, "agent_removed", removed);
    QCOMPARE(removed.data[u"agent_id"].toString(), u"a"_s);
    QCOMPARE(removed.data[u"sequence"].toInteger(), 3);
    // A removal refused (unknown agent) is no event.
    VERIFY_STATUS(httpExchange(port, buildRequest("DELETE", "/agents/nobody", {}, {})), 404);

    VERIFY_STATUS(httpExchange(port, buildRequest("DELETE", "/admin/reset", {}, {})), 200);
    NEXT_EVENT(client, "reset", reset);
    QVERIFY(reset.data[u"sequence"].toInteger() > 3);
    QVERIFY(!client.next(300).has_value());
}

void TestEvents::resumeWithLastEventId()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QByteArray lastId;
    {
        EventClient client;
        QVERIFY(client.open(port));
        NEXT_EVENT(client, "hello", hello);
        QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
        NEXT_EVENT(client, "push", seen);
        lastId = seen.id;
    }
    // Missed while disconnected.
    QCOMPARE(push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    QCOMPARE(push(port, u"c"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);

    EventClient again;
    QVERIFY(again.open(port, {{"Last-Event-ID", lastId}}));
    NEXT_EVENT(again, "hello", hello);
    QCOMPARE(hello.data[u"resumed"].toBool(), true);
    QVERIFY(hello.id.isEmpty()); // the client keeps its place
    NEXT_EVENT(again, "push", b);
    QCOMPARE(b.data[u"agent_id"].toString(), u"b"_s);
    NEXT_EVENT(again, "push", c);
    QCOMPARE(c.data[u"agent_id"].toString(), u"c"_s);
    // Then live, without a gap or a repeat.
    QCOMPARE(push(port, u"d"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    NEXT_EVENT(again, "push", d);
    QCOMPARE(d.data[u"agent_id"].toString(), u"d"_s);

    // Up to date: nothing to replay.
    EventClient current;
    QVERIFY(current.open(port, {{"Last-Event-ID", d.id}}));
    NEXT_EVENT(current, "hello", currentHello);
    QCOMPARE(currentHello.data[u"resumed"].toBool(), true);
    QVERIFY(!current.next(300).has_value());
}

// The hub formats an event when a stream first needs it, not when it is published: events
// published while no stream was open replay in full, and a replay is the frame a live stream
// got, byte for byte (same id, type and data).
void TestEvents::replayMatchesLive()
{
    TestServer server;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QByteArray firstId;
    {
        EventClient live;
        QVERIFY(live.open(port));
        NEXT_EVENT(live, "hello", hello);
        QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {u"x"_s, u"y"_s}),
                 200);
        NEXT_EVENT(live, "push", a);
        firstId = a.id;
    }
    // No stream open: published, not formatted.
    QCOMPARE(
        push(port, u"b"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 2}, {u"u"_s, 5}}, {u"y"_s, u"z"_s}),
        200);
    QCOMPARE(push(port, u"b"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 3}}, {u"z"_s}), 200);

    QList<Event> first;
    for (int round = 0; round < 2; ++round) {
        EventClient resumed;
        QVERIFY(resumed.open(port, {{"Last-Event-ID", firstId}}));
        NEXT_EVENT(resumed, "hello", hello);
        QCOMPARE(hello.data[u"resumed"].toBool(), true);
        NEXT_EVENT(resumed, "push", b1);
        NEXT_EVENT(resumed, "push", b2);
        QVERIFY(!resumed.next(300).has_value());
        if (round == 0) {
            QCOMPARE(b1.data[u"agent_id"].toString(), u"b"_s);
            QCOMPARE(b1.data[u"timestamp"].toString(), u"2025-01-01T00:00:00+00:00"_s);
            QVERIFY(!b1.data[u"received_at"].toString().isEmpty());
            QCOMPARE(b1.data[u"sequence"].toInteger(), 2);
            QCOMPARE(b1.data[u"topic_deltas"].toObject(), (QJsonObject{{u"t"_s, 2}, {u"u"_s, 5}}));
            QCOMPARE(b1.data[u"facts_added"].toArray(), (QJsonArray{u"y"_s, u"z"_s}));
            QCOMPARE(b2.data[u"sequence"].toInteger(), 3);
            QCOMPARE(b2.data[u"topic_deltas"].toObject(), (QJsonObject{{u"t"_s, 1}, {u"u"_s, -5}}));
            QCOMPARE(b2.data[u"facts_removed"].toArray(), (QJsonArray{u"y"_s}));
            QCOMPARE(b2.data[u"facts_removed_count"].toInteger(), 1);
            first = {b1, b2};
        } else {
            // Formatted once, kept: the second replay is the same.
            QCOMPARE(b1.id, first.at(0).id);
            QCOMPARE(b1.data, first.at(0).data);
            QCOMPARE(b2.id, first.at(1).id);
            QCOMPARE(b2.data, first.at(1).data);
        }
    }

    // Live and replayed: the same frame.
    EventClient live;
    QVERIFY(live.open(port));
    NEXT_EVENT(live, "hello", liveHello);
    QCOMPARE(push(port, u"c"_s, u"2025-01-01T00:00:00Z"_s, {{u"v"_s, 1}}, {u"w"_s}), 200);
    NEXT_EVENT(live, "push", seenLive);
    EventClient replay;
    QVERIFY(replay.open(port, {{"Last-Event-ID", first.at(1).id}}));
    NEXT_EVENT(replay, "hello", replayHello);
    NEXT_EVENT(replay, "push", replayed);
    QCOMPARE(replayed.id, seenLive.id);
    QCOMPARE(replayed.data, seenLive.data);
    QCOMPARE(replayed.data[u"agent_id"].toString(), u"c"_s);
}

void TestEvents::ringOverflowSaysReload()
{
    TestServer server;
    server.config.eventRingSize = 2;
    QVERIFY(server.start());
    const quint16 port = server.port();
    QByteArray lastId;
    {
        EventClient client;
        QVERIFY(client.open(port));
        NEXT_EVENT(client, "hello", hello);
        lastId = hello.id;
    }
    for (const QString &agent : {u"a"_s, u"b"_s, u"c"_s})
        QCOMPARE(push(port, agent, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);

    EventClient late;
    QVERIFY(late.open(port, {{"Last-Event-ID", lastId}}));
    NEXT_EVENT(late, "hello", hello);
    NEXT_EVENT(late, "reload", reload);
    QCOMPARE(reload.data[u"sequence"].toInteger(), 3);
    QVERIFY(!reload.data[u"reason"].toString().isEmpty());
    QVERIFY(!reload.id.isEmpty());
    QVERIFY(!late.next(300).has_value()); // no partial replay

    // An id from another server (or before a restart) also means reload.
    EventClient stranger;
    QVERIFY(stranger.open(port, {{"Last-Event-ID", "0123abcd-1"}}));
    NEXT_EVENT(stranger, "hello", strangerHello);
    QCOMPARE(strangerHello.data[u"resumed"].toBool(true), false);
    NEXT_EVENT(stranger, "reload", strangerReload);
    EventClient garbage;
    QVERIFY(garbage.open(port, {{"Last-Event-ID", "not an id"}}));
    NEXT_EVENT(garbage, "hello", garbageHello);
    NEXT_EVENT(garbage, "reload", garbageReload);
}

void TestEvents::capOnStreams()
{
    TestServer server;
    server.config.maxEventStreams = 2;
    // No heartbeat (nothing written to the streams) during the test: a client that leaves
    // must be noticed by the server's probe of its streams, not by a failed write.
    server.config.eventHeartbeatMs = 600000;
    QVERIFY(server.start());
    const quint16 port = server.port();
    EventClient one;
    EventClient two;
    QVERIFY(one.open(port));
    QVERIFY(two.open(port));
    QCOMPARE(one.status, 200);
    QCOMPARE(two.status, 200);
    EventClient three;
    QVERIFY(three.open(port));
    QCOMPARE(three.status, 503);
    QCOMPARE(three.header("retry-after"), QByteArray("5"));
    QVERIFY(three.rest().contains("event streams"));
    // Other routes still work at the cap, and the streams count as open connections.
    const HttpResponse metrics = httpGet(port, "/metrics");
    VERIFY_STATUS(metrics, 200);
    const QByteArray gauge("\nagmem_open_connections ");
    const qsizetype at = metrics.body.indexOf(gauge);
    QVERIFY(at >= 0);
    const qsizetype end = metrics.body.indexOf('\n', at + gauge.size());
    const qint64 open = metrics.body.mid(at + gauge.size(), end - at - gauge.size()).toLongLong();
    QVERIFY2(open >= 3, QByteArray::number(open).constData()); // two streams and this request
    // A slot frees when a client leaves (the streams are probed every second).
    one.close();
    bool reopened = false;
    for (int attempt = 0; attempt < 50 && !reopened; ++attempt) {
        EventClient again;
        QVERIFY(again.open(port));
        reopened = again.status == 200;
        if (!reopened)
            QTest::qWait(100);
    }
    QVERIFY(reopened);
}

void TestEvents::exemptFromIdleTimeout()
{
    TestServer server;
    server.config.connection.idleTimeoutMs = 1000;
    QVERIFY(server.start());
    const quint16 port = server.port();
    EventClient stream;
    QVERIFY(stream.open(port));
    NEXT_EVENT(stream, "hello", hello);
    // A plain keep-alive connection is closed for idleness...
    RawHttpClient idle;
    QVERIFY(idle.connectTo(port));
    QVERIFY(idle.send(buildRequest("GET", "/health", {}, {})));
    QVERIFY(idle.readResponse().valid);
    QVERIFY(idle.waitForDisconnected(20000));
    // ...the stream, idle as long, is not, and still delivers.
    QVERIFY(stream.connected());
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    NEXT_EVENT(stream, "push", event);
    QCOMPARE(event.data[u"agent_id"].toString(), u"a"_s);
}

void TestEvents::pullScope()
{
    TestServer server;
    server.config.access.mode = AccessConfig::AuthMode::Required;
    QVERIFY(server.start());
    server.stop();
    QString error;
    QString pullKey;
    QString pushKey;
    {
        auto store = Store::open(*server.store(), {}, &error);
        QVERIFY2(store, qPrintable(error));
        pullKey = store->createKey(u"reader"_s, unsigned(Scope::Pull), nullptr).value_or(QString());
        pushKey = store->createKey(u"writer"_s, unsigned(Scope::Push), nullptr).value_or(QString());
    }
    QVERIFY(!pullKey.isEmpty() && !pushKey.isEmpty());
    QVERIFY(server.start());
    const quint16 port = server.port();

    EventClient anonymous;
    QVERIFY(anonymous.open(port));
    QCOMPARE(anonymous.status, 401);
    EventClient wrongScope;
    QVERIFY(wrongScope.open(port, {{"Authorization", "Bearer " + pushKey.toLatin1()}}));
    QCOMPARE(wrongScope.status, 403);
    EventClient reader;
    QVERIFY(reader.open(port, {{"Authorization", "Bearer " + pullKey.toLatin1()}}));
    QCOMPARE(reader.status, 200);
    NEXT_EVENT(reader, "hello", hello);
    QCOMPARE(push(port, u"a"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}, {},
                  {{"X-API-Key", pushKey.toLatin1()}}),
             200);
    NEXT_EVENT(reader, "push", event);
    QCOMPARE(event.data[u"agent_id"].toString(), u"a"_s);
}

void TestEvents::heartbeat()
{
    TestServer server;
    server.config.eventHeartbeatMs = 200;
    QVERIFY(server.start());
    EventClient client;
    QVERIFY(client.open(server.port()));
    NEXT_EVENT(client, "hello", hello);
    // Comment lines only (no event a client would see), more than one.
    for (int i = 0; i < 2; ++i) {
        const std::optional<Event> beat = client.next(10000, true);
        QVERIFY(beat);
        QVERIFY(beat->comment);
        QVERIFY(beat->type.isEmpty());
    }
    // Stopping the server ends the stream (it does not hold the stop up).
    server.stop();
    QVERIFY(client.waitClosed(10000));
}

void TestEvents::gzipStream()
{
    TestServer server;
    server.config.eventHeartbeatMs = 300;
    QVERIFY(server.start());
    const quint16 port = server.port();
    // A browser's Accept-Encoding, curl's default (none), and gzip refused.
    EventClient gzip;
    QVERIFY(gzip.open(port, {{"Accept-Encoding", "gzip, deflate, br"}}));
    EventClient plain;
    QVERIFY(plain.open(port));
    EventClient refused;
    QVERIFY(refused.open(port, {{"Accept-Encoding", "gzip;q=0, identity"}}));
    QCOMPARE(gzip.status, 200);
    QCOMPARE(gzip.header("content-encoding"), QByteArray("gzip"));
    QCOMPARE(gzip.header("vary"), QByteArray("Accept-Encoding"));
    QVERIFY(gzip.header("content-type").startsWith("text/event-stream"));
    QVERIFY(plain.header("content-encoding").isEmpty());
    QVERIFY(refused.header("content-encoding").isEmpty());
    NEXT_EVENT(gzip, "hello", gzipHello);
    NEXT_EVENT(plain, "hello", plainHello);
    QCOMPARE(gzipHello.id, plainHello.id);

    // Single pushes and a burst (written as batches): the same events on both streams.
    QStringList facts;
    for (int i = 0; i < 40; ++i)
        facts.append(u"fact-%1"_s.arg(i));
    for (int i = 0; i < 60; ++i) {
        QCOMPARE(push(port, u"agent-%1"_s.arg(i % 7),
                      u"2025-01-01T00:00:%1Z"_s.arg(i, 2, 10, QChar(u'0')), {{u"t"_s, i}},
                      facts.mid(i % 5, 20)),
                 200);
    }
    for (int i = 0; i < 60; ++i) {
        const std::optional<Event> a = gzip.next();
        const std::optional<Event> b = plain.next();
        QVERIFY2(a, gzip.decodeError().constData());
        QVERIFY(b);
        QCOMPARE(a->type, QByteArray("push"));
        QCOMPARE(a->id, b->id);
        QCOMPARE(a->data, b->data);
    }
    // Heartbeats decode too, and the stream is still good afterwards.
    const std::optional<Event> beat = gzip.next(10000, true);
    QVERIFY2(beat, gzip.decodeError().constData());
    QVERIFY(beat->comment);
    QCOMPARE(push(port, u"late"_s, u"2025-01-02T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    std::optional<Event> late;
    while ((late = gzip.next()) && late->type != "push") {
    }
    QVERIFY2(late, gzip.decodeError().constData());
    QCOMPARE(late->data[u"agent_id"].toString(), u"late"_s);
    QVERIFY(gzip.decodedCleanly());
    // It is compressed: the same events took far fewer bytes on the wire.
    QVERIFY2(gzip.wireBytes() * 3 < gzip.decodedBytes(),
             QByteArray(QByteArray::number(gzip.wireBytes()) + " of " +
                        QByteArray::number(gzip.decodedBytes()))
                 .constData());

    // Resuming with Last-Event-ID works the same with gzip.
    EventClient resumed;
    QVERIFY(resumed.open(port, {{"Accept-Encoding", "gzip"}, {"Last-Event-ID", plainHello.id}}));
    NEXT_EVENT(resumed, "hello", resumedHello);
    QCOMPARE(resumedHello.data[u"resumed"].toBool(), true);
    NEXT_EVENT(resumed, "push", firstAgain);
    QCOMPARE(firstAgain.data[u"agent_id"].toString(), u"agent-0"_s);
}

void TestEvents::otherInstances()
{
    if (!postgresBackend())
        QSKIP("several instances share a PostgreSQL database (tst_events_pg)");
    TestServer server;
    QVERIFY(server.start());
    // A second instance on the same database.
    ServerConfig config = TestServer::defaultConfig();
    config.store = *server.store();
    ServerController other;
    QString error;
    QVERIFY2(other.startAndWait(config, &error), qPrintable(error));

    EventClient client;
    QVERIFY(client.open(server.port()));
    NEXT_EVENT(client, "hello", hello);
    // Through the other instance: told by this one's catch-up (within a second or so).
    QCOMPARE(push(other.port(), u"elsewhere"_s, u"2025-01-01T00:00:00Z"_s, {{u"t"_s, 1}}), 200);
    NEXT_EVENT(client, "push", pushed);
    QCOMPARE(pushed.data[u"agent_id"].toString(), u"elsewhere"_s);
    QCOMPARE(pushed.data[u"local"].toBool(true), false);
    QCOMPARE(pushed.data[u"timestamp"].toString(), u"2025-01-01T00:00:00+00:00"_s);
    QVERIFY(pushed.data[u"sequence"].toInteger() > hello.data[u"sequence"].toInteger());
    VERIFY_STATUS(httpExchange(other.port(), buildRequest("DELETE", "/admin/reset", {}, {})), 200);
    NEXT_EVENT(client, "reset", reset);
    QCOMPARE(reset.data[u"local"].toBool(true), false);
    other.stopAndWait();
}

void TestEvents::eventTextAsQJsonDocument_data()
{
    QTest::addColumn<int>("which");
    QTest::newRow("push") << 0;
    QTest::newRow("push, unknown timestamp, from another instance") << 1;
    QTest::newRow("agent removed") << 2;
    QTest::newRow("reset") << 3;
    QTest::newRow("reset, no time") << 4;
    QTest::newRow("push from contributions, code point order") << 5;
    QTest::newRow("push from contributions, ascii topics") << 6;
}

void TestEvents::eventTextAsQJsonDocument()
{
    QFETCH(int, which);
    const Instant at = *parseIsoTimestamp(u"2026-11-30T10:00:00.250+00:00"_s);
    ChangeEvent e;
    switch (which) {
    case 0:
        e.kind = ChangeEvent::Kind::Push;
        e.agentId = u"agent-\u00e9 \"quoted\" \\ /"_s;
        e.timestamp = at - 5000;
        e.receivedAt = at;
        e.sequence = 9007199254740993ULL; // above 2^53
        e.changesMerge = true;
        // Not in UTF-16 order here (the emoji's surrogates sort after U+FF5E): the text
        // must come out in QJsonObject's order all the same.
        e.topicDeltas = {{u"b"_s, -3}, {u"\U0001F600"_s, 2}, {u"\uFF5E"_s, 1}, {u"a"_s, 0}};
        e.factsAdded = {u"tab\there"_s, u"nl\nand\u0001"_s, u"\u00fc\u4e2d"_s};
        e.factsRemoved = {u"gone"_s};
        e.factsAddedCount = 3;
        e.factsRemovedCount = 150;
        break;
    case 1:
        e.kind = ChangeEvent::Kind::Push;
        e.agentId = u"agent-1"_s;
        e.receivedAt = at;
        e.sequence = 7;
        e.local = false;
        break;
    case 2:
        e = ChangeEvent::agentRemoved(u"agent-2"_s, 12);
        e.receivedAt = at;
        break;
    case 3:
        e = ChangeEvent::reset(13);
        e.receivedAt = at;
        break;
    case 4:
        e = ChangeEvent::reset(14);
        e.receivedAt = 0;
        break;
    default: {
        // As the write path makes them: contributions keep topics and facts in code point
        // order, which differs from UTF-16 order for U+E000..U+FFFF beside U+10000 on.
        agmem::Contribution before;
        before.timestamp = at - 9000;
        agmem::Contribution after;
        after.timestamp = at - 5000;
        if (which == 5) {
            before.topics = {{u"a"_s, 1}, {u"\uFF5E"_s, 4}, {u"\U0001F600"_s, 2}};
            after.topics = {{u"a"_s, 1}, {u"b\\"_s, 2}, {u"\uFF5E"_s, 1}, {u"\U0001F600"_s, 5}};
            before.facts = {u"x"_s, u"\uFF5E"_s, u"\U0001F600"_s};
            after.facts = {u"\"q\\"_s, u"\uE000"_s, u"\U0001F601"_s};
        } else {
            before.topics = {{u"episodic"_s, 3}, {u"semantic"_s, 4}};
            after.topics = {{u"episodic"_s, 1}, {u"procedural"_s, 2}, {u"semantic"_s, 4}};
            before.facts = {u"Daily standup"_s, u"fact-1"_s, u"python"_s};
            after.facts = {u"Daily standup"_s, u"fact-2"_s, u"python"_s};
        }
        e = ChangeEvent::push(u"agent-%1"_s.arg(which), before, after, after.timestamp, at, 99);
        // The deltas wait until the event is formatted: json() of the pending event is
        // the text of the resolved one.
        QVERIFY(e.diffPending);
        QVERIFY(e.topicDeltas.isEmpty());
        const QByteArray pending = e.json();
        e.resolveDiff();
        QVERIFY(!e.diffPending);
        QVERIFY(!e.diffBefore && !e.diffAfter);
        QCOMPARE(e.topicDeltas.size(), which == 5 ? 3 : 2);
        QCOMPARE(e.factsAddedCount, qint64(which == 5 ? 3 : 1));
        QCOMPARE(pending, e.json());
        break;
    }
    }
    QCOMPARE(e.json(), viaQJsonDocument(e));
    QVERIFY(QJsonDocument::fromJson(e.json()).isObject());
}

void TestEvents::framesOfTheHub()
{
    // The SSE frames the hub sends, as a client receives them: "id: <token>-<n>", the
    // event's type and its JSON (QJsonDocument's text of the resolved event), one after
    // another, whatever the hub caches or resolves on the way. The times cross days (and
    // 1970) back and forth, with and without microseconds, for the date part the hub keeps.
    const auto at = [](const char *text) { return *parseIsoTimestamp(QString::fromLatin1(text)); };
    QList<ChangeEvent> events;
    agmem::Contribution before;
    before.topics = {{u"a"_s, 1}, {u"\uFF5E"_s, 4}, {u"\U0001F600"_s, 2}};
    before.facts = {u"x"_s, u"\uFF5E"_s, u"\U0001F600"_s};
    agmem::Contribution after;
    after.topics = {{u"a"_s, 1}, {u"b\\"_s, 2}, {u"\uFF5E"_s, 1}, {u"\U0001F600"_s, 5}};
    after.facts = {u"\"q\\"_s, u"x"_s, u"\uE000"_s, u"\U0001F601"_s};
    events.append(ChangeEvent::push(u"agent-\u00e9"_s, before, after,
                                    at("2026-11-30T23:59:59.999999+00:00"),
                                    at("2026-12-01T00:00:00+00:00"), 5));
    QStringList many;
    for (int i = 0; i < 2 * ChangeEvent::MaxListedFacts + 3; ++i)
        many.append(u"f%1"_s.arg(i, 4, 10, QChar(u'0')));
    agmem::Contribution large;
    large.topics = {{u"t"_s, 7}};
    large.facts = many;
    events.append(ChangeEvent::push(u"big"_s, std::nullopt, large, 0,
                                    at("2026-11-30T10:00:00.000001+00:00"), 6));
    events.append(ChangeEvent::push(u"stale"_s, after, std::nullopt,
                                    at("1969-12-31T23:59:59.5+00:00"),
                                    at("1970-01-01T00:00:00.000001+00:00"), 6));
    events.append(ChangeEvent::push(u"gone"_s, large, before, at("2000-02-29T12:34:56+00:00"),
                                    at("1969-12-31T23:59:59.999999+00:00"), 7));
    // Instants written just before (the formatter keeps the last two as text).
    events.append(ChangeEvent::push(u"again"_s, std::nullopt, after,
                                    at("1969-12-31T23:59:59.999999+00:00"),
                                    at("2000-02-29T12:34:56+00:00"), 7));
    ChangeEvent removed = ChangeEvent::agentRemoved(u"agent-\u00e9"_s, 8);
    removed.receivedAt = at("2026-12-01T00:00:00.1+00:00");
    events.append(removed);
    events.append(ChangeEvent::reset(9));
    events.last().receivedAt = at("2026-11-30T00:00:00+00:00");
    events.append(ChangeEvent::reset(10));
    events.last().receivedAt = 0;
    events.last().local = false;

    EventHub hub(64);
    const QByteArray token = hub.token();
    QList<QByteArray> expected;
    for (int i = 0; i < events.size(); ++i) {
        ChangeEvent resolved = events.at(i);
        resolved.resolveDiff();
        expected.append("id: " + token + '-' + QByteArray::number(i + 1) +
                        "\nevent: " + resolved.typeName().toLatin1() +
                        "\ndata: " + viaQJsonDocument(resolved) + "\n\n");
    }
    QCOMPARE(expected.at(1).count("\"f0"), qsizetype(ChangeEvent::MaxListedFacts));
    // Two batches: the first formatted on its own before the second comes.
    hub.publish(events.mid(0, 3));
    EventHub::Resume r = hub.since(0);
    QCOMPARE(r.last, quint64(3));
    QCOMPARE(r.frames, expected.mid(0, 3).join());
    hub.publish(events.mid(3));
    r = hub.since(3);
    QCOMPARE(r.last, quint64(events.size()));
    QCOMPARE(r.frames, expected.mid(3).join());
    // From any place, and again (the frames are kept): the same bytes.
    for (int from = 0; from < events.size(); ++from)
        QCOMPARE(hub.since(quint64(from)).frames, expected.mid(from).join());
    QCOMPARE(hub.since(quint64(events.size())).frames, QByteArray());
    // Frames built out of order (one event first, then those around it): still in order.
    EventHub other(64);
    QList<QByteArray> otherExpected;
    for (const QByteArray &frame : expected)
        otherExpected.append(frame.sliced(frame.indexOf('-')).prepend("id: " + other.token()));
    other.publish(events.mid(0, 3));
    QCOMPARE(other.since(2).frames, otherExpected.at(2));
    other.publish(events.mid(3));
    QCOMPARE(other.since(0).frames, otherExpected.join());
    QCOMPARE(other.since(1).frames, otherExpected.mid(1).join());
    QCOMPARE(other.since(5).frames, otherExpected.mid(5).join());

    // Resuming: a hello, then the same frames.
    r = hub.open(token + "-4");
    QVERIFY(r.frames.startsWith("retry: 2000\nevent: hello\ndata: "));
    QVERIFY(r.frames.endsWith(QByteArray("\n\n" + expected.mid(4).join())));
}

void TestEvents::frameDeflate()
{
    // FrameDeflate's pieces inflate (zlib, raw deflate) to exactly the frames given, alone and
    // after and before other pieces (zlib's too), for events like the product's and for the
    // odd ones: values longer than a deflate match (258), frames beyond its window (32 KiB),
    // other kinds in between, layouts that do not fit.
    const Instant at = *parseIsoTimestamp(u"2026-12-01T06:11:53.643+00:00"_s);
    QList<ChangeEvent> events;
    agmem::Contribution previous;
    for (int i = 0; i < 300; ++i) {
        agmem::Contribution now;
        now.topics = {{u"episodic"_s, i % 7}, {u"semantic"_s, i % 11}};
        now.facts = {u"Daily standup"_s, u"fact-%1"_s.arg(i % 37), u"python"_s};
        if (i % 29 == 0)
            now.facts.append(QString(300 + i, QChar(u'x'))); // longer than 258
        std::sort(now.facts.begin(), now.facts.end());
        const QString agent = u"agent-%1"_s.arg(i * 7919 % 1000, 16, 16, QChar(u'0'));
        ChangeEvent e =
            ChangeEvent::push(agent, i % 3 ? std::optional(previous) : std::nullopt, now,
                              i % 5 ? at - i * 1000000 : 0, at + i * 1370, quint64(i + 1));
        if (i % 17 == 0)
            e.receivedAt = 0; // a layout with one mark less
        events.append(e);
        if (i % 41 == 0)
            events.append(ChangeEvent::agentRemoved(agent, quint64(i + 1)));
        if (i % 97 == 0)
            events.append(ChangeEvent::reset(quint64(i + 1)));
        previous = now;
    }
    // One push with 100 facts of 500 characters: a frame of over 50 KiB, twice.
    agmem::Contribution huge;
    for (int i = 0; i < ChangeEvent::MaxListedFacts; ++i)
        huge.facts.append(u"%1"_s.arg(i, 3, 10, QChar(u'0')) + QString(497, QChar(u'y')));
    events.append(ChangeEvent::push(u"huge"_s, std::nullopt, huge, at, at, 400));
    events.append(ChangeEvent::push(u"huge"_s, std::nullopt, huge, at, at, 401));

    EventHub hub(4096);
    hub.publish(events);
    const EventHub::Resume all = hub.since(0, true);
    QCOMPARE(all.layouts.size(), events.size());
    QCOMPARE(all.frames, hub.since(0).frames);
    qsizetype total = 0;
    for (const FrameLayout &layout : all.layouts)
        total += layout.size;
    QCOMPARE(total, all.frames.size());

    bool ok = false;
    const QByteArray piece = FrameDeflate::piece(all.frames, all.layouts);
    QCOMPARE(inflateRaw(piece, &ok), all.frames);
    QVERIFY(ok);
    // A block with codes of its own (BTYPE 2) for many frames; fixed codes (1) for a few bytes.
    QCOMPARE((uchar(piece.at(0)) >> 1) & 3, 2);
    QCOMPARE((uchar(FrameDeflate::piece("x", {}).at(0)) >> 1) & 3, 1);
    // The events before the huge ones: a fraction of their size (some long facts literal).
    qsizetype smallSize = 0;
    for (qsizetype i = 0; i < all.layouts.size() - 2; ++i)
        smallSize += all.layouts.at(i).size;
    const QList<FrameLayout> small = all.layouts.mid(0, all.layouts.size() - 2);
    const QByteArray smallPiece = FrameDeflate::piece(all.frames.first(smallSize), small);
    QVERIFY2(smallPiece.size() * 3 < smallSize, QByteArray(QByteArray::number(smallPiece.size()) +
                                                           " of " + QByteArray::number(smallSize))
                                                    .constData());

    // Batches after one another, each on its own, between zlib's pieces: one stream.
    QByteArray stream = zlibPiece("retry: 2000\n\n");
    QByteArray expected = "retry: 2000\n\n";
    for (qsizetype from = 0, n = 1; from < all.layouts.size(); from += n, n = n * 2 + 1) {
        const EventHub::Resume r = hub.since(quint64(from), true);
        const qsizetype count = qMin(n, r.layouts.size());
        qsizetype size = 0;
        for (qsizetype i = 0; i < count; ++i)
            size += r.layouts.at(i).size;
        stream += FrameDeflate::piece(r.frames.first(size), r.layouts.first(count));
        expected += r.frames.first(size);
        stream += zlibPiece(": keep-alive\n\n");
        expected += ": keep-alive\n\n";
    }
    QCOMPARE(inflateRaw(stream, &ok), expected);
    QVERIFY(ok);

    // Layouts that do not add up to the frames, or marks out of order: literals, still right.
    QList<FrameLayout> wrong = all.layouts.mid(0, 3);
    QCOMPARE(inflateRaw(FrameDeflate::piece(all.frames, wrong), &ok), all.frames);
    QVERIFY(ok);
    wrong = all.layouts;
    wrong[5].marks[1] = wrong[5].marks[0];
    wrong[6].marks[0] = quint16(wrong[6].size + 1);
    wrong[7].count = 200;
    QCOMPARE(inflateRaw(FrameDeflate::piece(all.frames, wrong), &ok), all.frames);
    QVERIFY(ok);
    // Frames of one value each (no marks), alike and not.
    const QByteArray plain = "abcabcabcabc, abcabcabcabd, xbcabcabcabd, a, ab, abc, abc";
    QList<FrameLayout> pieces;
    for (const QByteArray &part : plain.split(',')) {
        FrameLayout layout;
        layout.size = quint32(part.size() + (pieces.size() < 6 ? 1 : 0));
        pieces.append(layout);
    }
    QCOMPARE(inflateRaw(FrameDeflate::piece(plain, pieces), &ok), plain);
    QVERIFY(ok);
    QCOMPARE(inflateRaw(FrameDeflate::piece("x", {}), &ok), QByteArray("x"));
    QVERIFY(ok);
}

void TestEvents::slowReaderGetsEverything()
{
    // A stream whose client does not read for a while: what the kernel does not take at once
    // waits in the socket's buffer, and the client then reads every frame, whole and in
    // order (written straight to the socket while nothing waits, through Qt after).
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QTcpSocket client;
    client.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    client.connectToHost(QHostAddress::LocalHost, server.serverPort());
    QVERIFY(server.waitForNewConnection(5000));
    QTcpSocket *socket = server.nextPendingConnection();
    QVERIFY(socket);
    QVERIFY(client.waitForConnected(5000));
    // Small kernel buffers on both ends (no autotuning to megabytes).
    socket->setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, 16384);

    EventHub hub(4096);
    EventStreams streams(&hub, 4, 60000);
    streams.open(socket, {});
    agmem::Contribution big;
    for (int i = 0; i < ChangeEvent::MaxListedFacts; ++i)
        big.facts.append(u"%1"_s.arg(i, 3, 10, QChar(u'0')) + QString(297, QChar(u'z')));
    // About 30 KiB a frame, 2.4 MB in all (below the buffer a stream may fill).
    for (int i = 0; i < 80; ++i) {
        hub.publish({ChangeEvent::push(u"agent-%1"_s.arg(i), std::nullopt, big, nowInstant(),
                                       nowInstant(), quint64(i + 1))});
        QTest::qWait(i % 8 == 0 ? EventStreams::CoalesceMs + 20 : 1);
    }
    QTest::qWait(EventStreams::CoalesceMs + 20);
    QCOMPARE(streams.count(), 1);
    QVERIFY2(socket->bytesToWrite() > 0, "the kernel took it all: nothing was left to queue");
    const QByteArray expected = hub.since(0).frames;
    QByteArray received;
    QElapsedTimer timer;
    timer.start();
    while (!received.endsWith(expected.right(64)) && timer.elapsed() < 30000) {
        if (client.waitForReadyRead(50))
            received += client.readAll();
        QCoreApplication::processEvents();
    }
    const qsizetype start = received.indexOf("\n\nid: ");
    QVERIFY(received.startsWith("retry: 2000\n"));
    QVERIFY(start > 0);
    QCOMPARE(received.mid(start + 2), expected);
}

QTEST_GUILESS_MAIN(TestEvents)
#include "tst_events.moc"
