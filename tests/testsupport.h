#pragma once

// Shared helpers for tests that talk to a real coordinator over real sockets:
//  - RawHttpClient: a blocking HTTP/1.1 client on QTcpSocket that sends exactly the bytes
//    it is given and parses one response at a time (status, headers, body by
//    Content-Length), so tests can check keep-alive, pipelining and byte-exact requests.
//  - TestServer: a ServerController on 127.0.0.1 port 0 with a SQLite file in its own
//    QTemporaryDir (or a PostgreSQL database of its own, for the *_pg runs).
// Blocking waits are fine from the test thread: the server runs in its own thread.

#include "pgsupport.h"
#include "testtls.h"

#include "server/servercontroller.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QList>
#include <QPair>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QString>
#include <QStringList>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <memory>
#include <optional>
#include <utility>

// Fails the test unless `response` is a complete response with status `code` (shows the body).
// The including file needs `using namespace Qt::StringLiterals;`.
#define VERIFY_STATUS(response, code)                                                              \
    do {                                                                                           \
        const agmem::test::HttpResponse &r_ = (response);                                          \
        QVERIFY2(r_.valid, qPrintable(r_.error));                                                  \
        QVERIFY2(r_.status == (code),                                                              \
                 qPrintable(u"status %1, expected %2, body: %3"_s.arg(r_.status).arg(code).arg(    \
                     QString::fromUtf8(r_.body.left(400)))));                                      \
    } while (false)

namespace agmem::test {

using RawHeaders = QList<QPair<QByteArray, QByteArray>>;

struct HttpResponse
{
    // False when no complete response arrived (timeout, connection closed, garbage);
    // `error` then says why.
    bool valid = false;
    QString error;
    int status = 0;
    QByteArray reason;
    RawHeaders headers;
    QByteArray body;
    // Size of the status line and headers, including the blank line.
    qsizetype headerBytes = 0;

    bool hasHeader(QByteArrayView name) const
    {
        for (const auto &[key, value] : headers) {
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return true;
        }
        return false;
    }
    // Case-insensitive; the first occurrence, empty when absent.
    QByteArray header(QByteArrayView name) const
    {
        for (const auto &[key, value] : headers) {
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return value;
        }
        return {};
    }
    // The body as JSON; `ok` (when given) says whether it parsed.
    QJsonDocument json(bool *ok = nullptr) const
    {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
        if (ok)
            *ok = error.error == QJsonParseError::NoError;
        return doc;
    }
    QJsonObject object() const { return json().object(); }
};

// Builds one HTTP/1.1 request with Host and Content-Length (when there is a body, and always
// for POST and PUT).
// `headers` are added as given (a Content-Type, say); `close` adds "Connection: close".
inline QByteArray buildRequest(const QByteArray &method, const QByteArray &path,
                               const QByteArray &body = {}, const RawHeaders &headers = {},
                               bool close = false)
{
    QByteArray out = method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto &[name, value] : headers)
        out += name + ": " + value + "\r\n";
    if (!body.isEmpty() || method == "POST" || method == "PUT")
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    if (close)
        out += "Connection: close\r\n";
    out += "\r\n";
    out += body;
    return out;
}

// A JSON POST, as the agmem client sends it (keep-alive unless `close`).
inline QByteArray buildJsonPost(const QByteArray &path, const QByteArray &body, bool close = false)
{
    return buildRequest(
        "POST", path, body,
        {{QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")}}, close);
}

// Suites that rerun over TLS (initTestCase_data rows "http" and "https") set this: every
// RawHttpClient then connects with TLS (the server's certificate is not verified).
inline bool &testClientsUseTls()
{
    static bool tls = false;
    return tls;
}

class RawHttpClient
{
public:
    static constexpr int DefaultTimeoutMs = 10000;

    RawHttpClient() = default;
    RawHttpClient(const RawHttpClient &) = delete;
    RawHttpClient &operator=(const RawHttpClient &) = delete;

    bool connectTo(quint16 port, const QHostAddress &host = QHostAddress::LocalHost,
                   int timeoutMs = DefaultTimeoutMs)
    {
        m_buffer.clear();
        if (!testClientsUseTls()) {
            m_socket.connectToHost(host, port);
            return m_socket.waitForConnected(timeoutMs);
        }
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setPeerVerifyMode(QSslSocket::VerifyNone);
        m_socket.setSslConfiguration(tls);
        m_socket.connectToHostEncrypted(host.toString(), port);
        return m_socket.waitForEncrypted(timeoutMs);
    }

    // Writes every byte (blocking until the kernel took them).
    bool send(const QByteArray &bytes, int timeoutMs = DefaultTimeoutMs)
    {
        if (m_socket.write(bytes) != bytes.size())
            return false;
        QElapsedTimer timer;
        timer.start();
        while (m_socket.bytesToWrite() > 0) {
            if (!m_socket.waitForBytesWritten(remaining(timer, timeoutMs)))
                return false;
        }
        return true;
    }

    // Reads exactly one response. `headRequest`: the answer to a HEAD carries no body,
    // whatever its Content-Length says. Bytes after it stay buffered for the next call.
    HttpResponse readResponse(bool headRequest = false, int timeoutMs = DefaultTimeoutMs)
    {
        HttpResponse r;
        QElapsedTimer timer;
        timer.start();

        qsizetype end = -1;
        while ((end = m_buffer.indexOf("\r\n\r\n")) < 0) {
            if (!fill(timer, timeoutMs)) {
                r.error = QStringLiteral("no complete header: ") + m_error;
                return r;
            }
        }
        r.headerBytes = end + 4;
        const QList<QByteArray> lines = m_buffer.left(end).split('\n');
        const QByteArray statusLine = lines.first().trimmed();
        if (!statusLine.startsWith("HTTP/1.")) {
            r.error = QStringLiteral("not a status line: ") +
                      QString::fromLatin1(statusLine.left(80).toPercentEncoding(" /:"));
            return r;
        }
        const qsizetype space = statusLine.indexOf(' ');
        const qsizetype space2 = statusLine.indexOf(' ', space + 1);
        bool ok = false;
        r.status = statusLine.mid(space + 1, space2 < 0 ? -1 : space2 - space - 1).toInt(&ok);
        if (space < 0 || !ok) {
            r.error = QStringLiteral("bad status line");
            return r;
        }
        r.reason = space2 < 0 ? QByteArray() : statusLine.mid(space2 + 1);
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines.at(i).trimmed();
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0) {
                r.error = QStringLiteral("bad header line");
                return r;
            }
            r.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
        }
        m_buffer.remove(0, r.headerBytes);

        const bool noBody = headRequest || r.status == 204 || r.status == 304 ||
                            (r.status >= 100 && r.status < 200);
        if (noBody) {
            r.valid = true;
            return r;
        }
        if (r.hasHeader("content-length")) {
            const qint64 length = r.header("content-length").toLongLong(&ok);
            if (!ok || length < 0) {
                r.error = QStringLiteral("bad Content-Length");
                return r;
            }
            while (m_buffer.size() < length) {
                if (!fill(timer, timeoutMs)) {
                    r.error = QStringLiteral("body shorter than Content-Length: ") + m_error;
                    return r;
                }
            }
            r.body = m_buffer.left(length);
            m_buffer.remove(0, length);
        } else {
            // No length: the body runs to the end of the connection.
            while (fill(timer, timeoutMs)) {
            }
            if (m_socket.state() != QAbstractSocket::UnconnectedState) {
                r.error = QStringLiteral("no Content-Length and the connection stayed open");
                return r;
            }
            r.body = std::exchange(m_buffer, {});
        }
        r.valid = true;
        return r;
    }

    // Sends one request and reads its answer on this (kept-alive) connection.
    HttpResponse request(const QByteArray &bytes, bool headRequest = false)
    {
        if (!send(bytes)) {
            HttpResponse r;
            r.error = QStringLiteral("send failed: ") + m_socket.errorString();
            return r;
        }
        return readResponse(headRequest);
    }

    // True once the server closed the connection (and nothing more arrived than
    // what is already buffered).
    bool waitForDisconnected(int timeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        while (m_socket.state() != QAbstractSocket::UnconnectedState) {
            if (timer.hasExpired(timeoutMs))
                return false;
            m_socket.waitForReadyRead(remaining(timer, timeoutMs));
            m_buffer += m_socket.readAll();
        }
        return true;
    }

    // Bytes received but not yet returned as part of a response.
    QByteArray pending() const { return m_buffer; }
    QTcpSocket &socket() { return m_socket; }

private:
    static int remaining(const QElapsedTimer &timer, int timeoutMs)
    {
        return int(qMax<qint64>(1, timeoutMs - timer.elapsed()));
    }

    // Appends whatever arrives next; false on timeout or when the connection is closed.
    bool fill(const QElapsedTimer &timer, int timeoutMs)
    {
        if (m_socket.bytesAvailable() > 0) {
            m_buffer += m_socket.readAll();
            return true;
        }
        if (timer.hasExpired(timeoutMs)) {
            m_error = QStringLiteral("timeout");
            return false;
        }
        if (!m_socket.waitForReadyRead(remaining(timer, timeoutMs))) {
            m_buffer += m_socket.readAll();
            m_error = m_socket.state() == QAbstractSocket::UnconnectedState
                          ? QStringLiteral("connection closed")
                          : QStringLiteral("timeout");
            return false;
        }
        m_buffer += m_socket.readAll();
        return true;
    }

    QSslSocket m_socket; // plain TCP unless testClientsUseTls()
    QByteArray m_buffer;
    QString m_error;
};

// One request on a fresh connection.
inline HttpResponse httpExchange(quint16 port, const QByteArray &requestBytes,
                                 bool headRequest = false)
{
    RawHttpClient client;
    if (!client.connectTo(port)) {
        HttpResponse r;
        r.error = QStringLiteral("cannot connect: ") + client.socket().errorString();
        return r;
    }
    return client.request(requestBytes, headRequest);
}

inline HttpResponse httpGet(quint16 port, const QByteArray &path, const RawHeaders &headers = {})
{
    return httpExchange(port, buildRequest("GET", path, {}, headers));
}

inline HttpResponse httpPostJson(quint16 port, const QByteArray &path, const QByteArray &body)
{
    return httpExchange(port, buildJsonPost(path, body));
}

// {"summary": {...}} with the given fields, compact JSON.
inline QByteArray summaryBody(const QString &agentId, const QString &timestamp,
                              const QJsonObject &topicCounts, const QStringList &facts)
{
    const QJsonObject summary{{QStringLiteral("agent_id"), agentId},
                              {QStringLiteral("timestamp"), timestamp},
                              {QStringLiteral("topic_counts"), topicCounts},
                              {QStringLiteral("fact_hashes"), QJsonArray::fromStringList(facts)}};
    return QJsonDocument(QJsonObject{{QStringLiteral("summary"), summary}})
        .toJson(QJsonDocument::Compact);
}

// A coordinator on 127.0.0.1, port 0, with a store of its own: a SQLite file in its own
// temporary folder or, when the suite runs against PostgreSQL (AGMEM_TEST_BACKEND, see
// pgsupport.h), a new database on the test server, dropped at the end. Set `config` fields
// (merge mode, limits) before start(); the store and port are filled in.
class TestServer
{
public:
    TestServer() { config = defaultConfig(); }
    ~TestServer()
    {
        stop();
        if (m_store && m_store->kind == StoreUrl::Kind::PostgreSql)
            dropDatabase(*m_store);
    }
    TestServer(const TestServer &) = delete;
    TestServer &operator=(const TestServer &) = delete;

    static ServerConfig defaultConfig()
    {
        ServerConfig c;
        c.host = QHostAddress::LocalHost;
        c.port = 0;
        c.accessLog = false;
        // No API keys (admin routes from loopback only), and no rate limit: tests send
        // hundreds of requests a second from one address. Access control has tests of its own.
        c.access.mode = AccessConfig::AuthMode::Open;
        c.access.rateLimit = 0;
        return c;
    }

    QString databaseFile() const { return m_dir.filePath(QStringLiteral("coordinator.db")); }
    // The store this server uses (chosen by the first start()).
    std::optional<StoreUrl> store() const { return m_store; }

    // Starts a new controller on the same store (again after stop()).
    bool start(QString *error = nullptr)
    {
        QString message;
        if (!m_store) {
            if (postgresBackend()) {
                m_store = createDatabase(&message);
            } else if (m_dir.isValid()) {
                StoreUrl url;
                url.kind = StoreUrl::Kind::SqliteFile;
                url.path = databaseFile();
                m_store = url;
            } else {
                message = QStringLiteral("no temporary directory");
            }
            if (!m_store) {
                if (error)
                    *error = message;
                return false;
            }
        }
        stop();
        ServerConfig c = config;
        c.port = 0;
        c.store = *m_store;
        m_controller = std::make_unique<ServerController>();
        if (!m_controller->startAndWait(c, &message)) {
            m_controller.reset();
            if (error)
                *error = message;
            return false;
        }
        return true;
    }

    void stop()
    {
        if (m_controller) {
            m_controller->stopAndWait();
            m_controller.reset();
        }
    }

    bool isRunning() const { return m_controller != nullptr; }
    quint16 port() const { return m_controller ? m_controller->port() : 0; }
    ServerController *controller() const { return m_controller.get(); }

    ServerConfig config;

private:
    QTemporaryDir m_dir;
    std::optional<StoreUrl> m_store;
    std::unique_ptr<ServerController> m_controller;
};

} // namespace agmem::test
