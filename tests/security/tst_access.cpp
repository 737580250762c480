// Access control over real sockets: API keys (three ways to present them), auth modes,
// scopes, revocation, rate limits, auth-failure bans, trusted proxies, CORS, redaction of
// keys in logs, TLS, and the `keys` CLI against a running server. Every refusal is
// checked to leave the store untouched (/pull body and ETag).
#include "ciskip.h"
#include "testsupport.h"

#include "core/apikey.h"
#include "store/store.h"

#include <QFile>
#include <QMutex>
#include <QProcess>
#include <QRegularExpression>
#include <QSslCertificate>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <memory>

using namespace Qt::StringLiterals;
using namespace agmem::test;
using agmem::AccessConfig;
using agmem::Scope;

namespace {

using Mode = AccessConfig::AuthMode;

QByteArray pushBody(const QString &agent)
{
    return summaryBody(agent, u"2025-01-01T00:00:00+00:00"_s, QJsonObject{{u"t"_s, 1}}, {u"f"_s});
}

RawHeaders bearer(const QString &key)
{
    return {{"Authorization", "Bearer " + key.toLatin1()}};
}

HttpResponse get(quint16 port, const QByteArray &path, const RawHeaders &headers = {})
{
    return httpExchange(port, buildRequest("GET", path, {}, headers));
}

HttpResponse post(quint16 port, const QByteArray &path, const QByteArray &body,
                  RawHeaders headers = {})
{
    headers.append({QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json")});
    return httpExchange(port, buildRequest("POST", path, body, headers));
}

struct PullSnapshot
{
    QByteArray body;
    QByteArray etag;
};

// Messages logged anywhere in the process (the server thread included).
QMutex logMutex;
QStringList logLines;
QtMessageHandler previousHandler = nullptr;

void collectMessages(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    {
        QMutexLocker lock(&logMutex);
        logLines.append(QString::fromLatin1(context.category ? context.category : "") + u' ' +
                        message);
    }
    if (type != QtInfoMsg && type != QtDebugMsg && previousHandler)
        previousHandler(type, context, message);
}

// One response from a socket (Content-Length bodies only), for TLS where RawHttpClient
// (a QTcpSocket of its own) does not fit.
HttpResponse readResponseFrom(QTcpSocket &socket, QByteArray &buffer, int timeoutMs = 10000)
{
    HttpResponse r;
    QElapsedTimer timer;
    timer.start();
    const auto fill = [&] {
        if (timer.hasExpired(timeoutMs))
            return false;
        if (socket.bytesAvailable() == 0 && !socket.waitForReadyRead(100) &&
            socket.state() != QAbstractSocket::ConnectedState)
            return false;
        buffer += socket.readAll();
        return true;
    };
    qsizetype end;
    while ((end = buffer.indexOf("\r\n\r\n")) < 0) {
        if (!fill()) {
            r.error = u"no complete head"_s;
            return r;
        }
    }
    const QList<QByteArray> lines = buffer.left(end).split('\n');
    r.status = lines.first().split(' ').value(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        const qsizetype colon = line.indexOf(':');
        r.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
    }
    buffer.remove(0, end + 4);
    const qint64 length = r.header("content-length").toLongLong();
    while (buffer.size() < length) {
        if (!fill()) {
            r.error = u"short body"_s;
            return r;
        }
    }
    r.body = buffer.left(length);
    buffer.remove(0, length);
    r.valid = true;
    return r;
}

// One request with exactly these header lines (Host included: none is added).
HttpResponse rawExchange(quint16 port, const QByteArray &method, const QByteArray &path,
                         const RawHeaders &headers, const QByteArray &body = {})
{
    QByteArray out = method + ' ' + path + " HTTP/1.1\r\n";
    for (const auto &[name, value] : headers)
        out += name + ": " + value + "\r\n";
    if (!body.isEmpty() || method == "POST")
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    out += "\r\n" + body;
    return httpExchange(port, out);
}

QString detailOf(const HttpResponse &r)
{
    return r.object().value(u"detail"_s).toString();
}

} // namespace

class TstAccess : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void keyTransports();
    void clientPushThroughPathKey();
    void missingOrWrongKey_data();
    void missingOrWrongKey();
    void authAuto();
    void authOpen();
    void environmentKey();
    void scopes();
    void revokedKey();
    void rateLimit();
    void rateLimitPerAddressWhenOpen();
    void authFailureBan();
    void trustedProxy();
    void untrustedProxyHeadersIgnored();
    void adminBehindProxyNeedsLocalClient();
    void metricsBehindProxyNeedsLocalClient();
    void forwardedChain();
    void forwardedHeaderFamily();
    void banKeysOnResolvedAddress();
    void contentTypeRequired();
    void crossSiteWritesRefused();
    void dnsRebindingRefused();
    void logForgingEscaped();
    void timestampOutsideYearsRefused();
    void cors();
    void corsUnset();
    void keyNeverLogged();
    void tls();
    void tlsBadFiles_data();
    void tlsBadFiles();
    void cliKeys();

private:
    struct Server
    {
        std::unique_ptr<TestServer> server;
        quint16 port = 0;
        QString fullKey;  // push, pull, admin
        QStringList keys; // one for each of `extraKeys`
        QList<qint64> keyIds;
    };
    // A server with `mode`; `setup` adjusts the config. With `withKey`, a full-scope key
    // is created before the start.
    // Keys are created before the start: a key created while the server runs is seen
    // after its key refresh (up to 2 s), and tries before that count as auth failures.
    Server start(Mode mode, const std::function<void(agmem::ServerConfig &)> &setup = {},
                 bool withKey = true, const QList<unsigned> &extraKeys = {});
    std::unique_ptr<agmem::Store> openStore(const TestServer &server);
    QString createKey(const TestServer &server, unsigned scopes, qint64 *id = nullptr);
    PullSnapshot snapshot(const Server &s);
    // Polls until `request` answers `status` (keys created or revoked elsewhere are seen
    // after the server's key refresh).
    bool waitForStatus(const std::function<int()> &request, int status, int timeoutMs = 6000);
};

#define VERIFY_UNCHANGED(s, before)                                                                \
    do {                                                                                           \
        const PullSnapshot after_ = snapshot(s);                                                   \
        QCOMPARE(after_.body, (before).body);                                                      \
        QCOMPARE(after_.etag, (before).etag);                                                      \
    } while (false)

void TstAccess::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    previousHandler = qInstallMessageHandler(collectMessages);
}

void TstAccess::cleanupTestCase()
{
    qInstallMessageHandler(previousHandler);
}

TstAccess::Server TstAccess::start(Mode mode,
                                   const std::function<void(agmem::ServerConfig &)> &setup,
                                   bool withKey, const QList<unsigned> &extraKeys)
{
    Server s;
    s.server = std::make_unique<TestServer>();
    s.server->config.access.mode = mode;
    s.server->config.access.rateLimit = 0;
    if (setup)
        setup(s.server->config);
    if (withKey)
        s.fullKey = createKey(*s.server, unsigned(Scope::All));
    for (const unsigned scopes : extraKeys) {
        qint64 id = 0;
        s.keys.append(createKey(*s.server, scopes, &id));
        s.keyIds.append(id);
    }
    QString error;
    if (!s.server->start(&error))
        qWarning() << "server did not start:" << error;
    s.port = s.server->port();
    return s;
}

std::unique_ptr<agmem::Store> TstAccess::openStore(const TestServer &server)
{
    agmem::StoreUrl url;
    url.kind = agmem::StoreUrl::Kind::SqliteFile;
    url.path = server.databaseFile();
    QString error;
    auto store = agmem::Store::open(url, agmem::StoreOptions(), &error);
    if (!store)
        qWarning() << "cannot open the store:" << error;
    return store;
}

QString TstAccess::createKey(const TestServer &server, unsigned scopes, qint64 *id)
{
    auto store = openStore(server);
    if (!store)
        return {};
    agmem::ApiKeyRecord record;
    const auto key = store->createKey(u"test-"_s + agmem::scopesToString(scopes), scopes, &record);
    if (id)
        *id = record.id;
    return key.value_or(QString());
}

PullSnapshot TstAccess::snapshot(const Server &s)
{
    const HttpResponse r = get(s.port, "/pull", bearer(s.fullKey));
    if (r.status != 200)
        qWarning() << "snapshot: /pull answered" << r.status << r.body;
    return {r.body, r.header("etag")};
}

bool TstAccess::waitForStatus(const std::function<int()> &request, int status, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!timer.hasExpired(timeoutMs)) {
        if (request() == status)
            return true;
        QTest::qWait(400); // polls with an unknown key count as auth failures
    }
    return false;
}

// Bearer, X-API-Key and the /k/KEY/ prefix all authenticate.
void TstAccess::keyTransports()
{
    Server s = start(Mode::Required, {}, true, {Scope::Push | Scope::Pull});
    QVERIFY(s.port);
    const QString key = s.keys.value(0);
    QVERIFY(key.startsWith(u"agm_"));
    QCOMPARE(get(s.port, "/pull", bearer(key)).status, 200);

    QCOMPARE(get(s.port, "/pull", {{"authorization", "bearer " + key.toLatin1()}}).status, 200);
    QCOMPARE(get(s.port, "/pull", {{"X-API-Key", key.toLatin1()}}).status, 200);
    QCOMPARE(get(s.port, "/k/" + key.toLatin1() + "/pull").status, 200);
    QCOMPARE(post(s.port, "/push", pushBody(u"bearer"_s), bearer(key)).status, 200);
    QCOMPARE(
        post(s.port, "/push", pushBody(u"x-api-key"_s), {{"X-API-Key", key.toLatin1()}}).status,
        200);
    QCOMPARE(post(s.port, "/k/" + key.toLatin1() + "/push", pushBody(u"path"_s)).status, 200);
    QCOMPARE(get(s.port, "/pull", bearer(key)).object().value(u"contributing_agents"_s).toInt(), 3);
    // Open routes stay open.
    QCOMPARE(get(s.port, "/health").status, 200);
    QCOMPARE(get(s.port, "/").status, 200);
    // A key in the path works for the open routes too.
    QCOMPARE(get(s.port, "/k/" + key.toLatin1() + "/health").status, 200);
}

// The unmodified agmem client, byte for byte, with its key in coordinator_url.
void TstAccess::clientPushThroughPathKey()
{
    Server s = start(Mode::Required);
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    QFile file(QStringLiteral(AGMEM_SOURCE_DIR "/tests/data/client-push.http"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray original = file.readAll();
    QVERIFY(original.startsWith("POST /push HTTP/1.1\r\n"));

    // Without the key: 401, nothing stored.
    HttpResponse r = httpExchange(s.port, original);
    QCOMPARE(r.status, 401);
    VERIFY_UNCHANGED(s, before);

    QByteArray withKey = original;
    withKey.replace(0, int(qstrlen("POST /push")),
                    QByteArray("POST /k/" + s.fullKey.toLatin1() + "/push"));
    r = httpExchange(s.port, withKey);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QVERIFY(get(s.port, "/pull", bearer(s.fullKey)).body.contains("databases"));
}

void TstAccess::missingOrWrongKey_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<RawHeaders>("headers");
    QTest::addColumn<int>("status");
    const QByteArray wrong = agmem::ApiKey::generate().toLatin1();
    QTest::addRow("no key") << QByteArray("/push") << RawHeaders() << 401;
    QTest::addRow("wrong bearer") << QByteArray("/push")
                                  << RawHeaders{{"Authorization", "Bearer " + wrong}} << 401;
    QTest::addRow("wrong X-API-Key")
        << QByteArray("/push") << RawHeaders{{"X-API-Key", wrong}} << 401;
    QTest::addRow("wrong path key") << QByteArray("/k/" + wrong + "/push") << RawHeaders() << 401;
    QTest::addRow("empty path key") << QByteArray("/k//push") << RawHeaders() << 401;
    QTest::addRow("not a key") << QByteArray("/push") << RawHeaders{{"X-API-Key", "hunter2"}}
                               << 401;
    QTest::addRow("Basic auth") << QByteArray("/push")
                                << RawHeaders{{"Authorization", "Basic dXNlcjpwYXNz"}} << 401;
}

void TstAccess::missingOrWrongKey()
{
    QFETCH(QByteArray, path);
    QFETCH(RawHeaders, headers);
    QFETCH(int, status);
    Server s = start(Mode::Required);
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    const HttpResponse r = post(s.port, path, pushBody(u"intruder"_s), headers);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, status);
    QVERIFY(r.header("www-authenticate").startsWith("Bearer"));
    QVERIFY(r.object().value(u"detail"_s).isString());
    VERIFY_UNCHANGED(s, before);
}

// auto: open while no key exists; required as soon as one is created (seen within ~3 s).
void TstAccess::authAuto()
{
    Server s = start(Mode::Auto, {}, false);
    QVERIFY(s.port);
    QCOMPARE(post(s.port, "/push", pushBody(u"early"_s)).status, 200);
    QCOMPARE(get(s.port, "/pull").status, 200);

    const QString key = createKey(*s.server, Scope::Push | Scope::Pull);
    QVERIFY(!key.isEmpty());
    QElapsedTimer timer;
    timer.start();
    QVERIFY(waitForStatus([&] { return get(s.port, "/pull").status; }, 401));
    QVERIFY2(timer.elapsed() < 3500, qPrintable(QString::number(timer.elapsed())));
    const QByteArray before = get(s.port, "/pull", bearer(key)).body;
    QCOMPARE(post(s.port, "/push", pushBody(u"late"_s)).status, 401);
    QCOMPARE(get(s.port, "/pull", bearer(key)).body, before);
    QCOMPARE(post(s.port, "/push", pushBody(u"late"_s), bearer(key)).status, 200);
}

// open: keys are not needed even when some exist; admin routes from loopback only.
void TstAccess::authOpen()
{
    Server s = start(Mode::Open);
    QVERIFY(s.port);
    QCOMPARE(post(s.port, "/push", pushBody(u"anyone"_s)).status, 200);
    QCOMPARE(get(s.port, "/pull").status, 200);
    // A key that is presented is still checked.
    QCOMPARE(get(s.port, "/pull", bearer(agmem::ApiKey::generate())).status, 401);
    QCOMPARE(httpExchange(s.port, buildRequest("DELETE", "/admin/reset")).status, 200);
}

// API_KEY from the environment: a full-scope key; with auto, keys are then required.
void TstAccess::environmentKey()
{
    const QString envKey = u"agm_from-the-environment-0123456789"_s;
    Server s = start(
        Mode::Auto, [&](agmem::ServerConfig &c) { c.access.environmentKey = envKey; }, false);
    QVERIFY(s.port);
    s.fullKey = envKey;
    const PullSnapshot before = snapshot(s);
    QCOMPARE(post(s.port, "/push", pushBody(u"no-key"_s)).status, 401);
    QCOMPARE(get(s.port, "/pull").status, 401);
    VERIFY_UNCHANGED(s, before);
    QCOMPARE(post(s.port, "/push", pushBody(u"env"_s), bearer(envKey)).status, 200);
    QCOMPARE(get(s.port, "/pull", {{"X-API-Key", envKey.toLatin1()}}).status, 200);
    QCOMPARE(
        httpExchange(s.port, buildRequest("DELETE", "/admin/reset", {}, bearer(envKey))).status,
        200);
    QCOMPARE(
        get(s.port, "/pull", bearer(envKey)).object().value(u"contributing_agents"_s).toInt(-1), 0);
}

void TstAccess::scopes()
{
    Server s = start(Mode::Required, {}, true,
                     {unsigned(Scope::Push), unsigned(Scope::Pull), Scope::Push | Scope::Pull});
    QVERIFY(s.port);
    const QString pushOnly = s.keys.value(0);
    const QString pullOnly = s.keys.value(1);
    const QString pushPull = s.keys.value(2);
    QCOMPARE(post(s.port, "/push", pushBody(u"seed"_s), bearer(pushOnly)).status, 200);
    const PullSnapshot before = snapshot(s);

    HttpResponse r = post(s.port, "/push", pushBody(u"reader"_s), bearer(pullOnly));
    QCOMPARE(r.status, 403);
    QVERIFY(r.object().value(u"detail"_s).toString().contains(u"push"));
    VERIFY_UNCHANGED(s, before);
    QCOMPARE(get(s.port, "/pull", bearer(pushOnly)).status, 403);
    r = httpExchange(s.port, buildRequest("DELETE", "/admin/reset", {}, bearer(pushPull)));
    QCOMPARE(r.status, 403);
    QVERIFY(r.object().value(u"detail"_s).toString().contains(u"admin"));
    VERIFY_UNCHANGED(s, before);
    // Admin routes need a key with admin even from loopback when keys are required.
    QCOMPARE(httpExchange(s.port, buildRequest("DELETE", "/admin/reset")).status, 401);
    VERIFY_UNCHANGED(s, before);
    QCOMPARE(
        httpExchange(s.port, buildRequest("DELETE", "/admin/reset", {}, bearer(s.fullKey))).status,
        200);
    QVERIFY(snapshot(s).etag != before.etag);
}

void TstAccess::revokedKey()
{
    Server s = start(Mode::Required, {}, true, {Scope::Push | Scope::Pull});
    QVERIFY(s.port);
    const QString key = s.keys.value(0);
    const qint64 id = s.keyIds.value(0);
    QVERIFY(id > 0);
    QCOMPARE(get(s.port, "/pull", bearer(key)).status, 200);
    {
        auto store = openStore(*s.server);
        QVERIFY(store);
        QVERIFY(store->revokeKey(id));
    }
    QElapsedTimer timer;
    timer.start();
    QVERIFY(waitForStatus([&] { return get(s.port, "/pull", bearer(key)).status; }, 401));
    QVERIFY2(timer.elapsed() < 3500, qPrintable(QString::number(timer.elapsed())));
    const PullSnapshot before = snapshot(s);
    const HttpResponse r = post(s.port, "/push", pushBody(u"revoked"_s), bearer(key));
    QCOMPARE(r.status, 401);
    QVERIFY(r.header("www-authenticate").startsWith("Bearer"));
    VERIFY_UNCHANGED(s, before);
}

// Over the limit: 429 with Retry-After, nothing stored; each key has its own bucket.
void TstAccess::rateLimit()
{
    Server s = start(Mode::Required, [](agmem::ServerConfig &c) { c.access.rateLimit = 2; }, true,
                     {Scope::Push | Scope::Pull, Scope::Push | Scope::Pull});
    QVERIFY(s.port);
    const QString a = s.keys.value(0);
    const QString b = s.keys.value(1);
    // The snapshot key has a bucket of its own, separate from a's and b's.
    const PullSnapshot before = snapshot(s);

    // Burst of twice the rate: the first 4 pass (at most one more refills meanwhile).
    QList<int> statuses;
    HttpResponse limited;
    for (int i = 0; i < 12 && limited.status != 429; ++i) {
        const HttpResponse r = get(s.port, "/pull", bearer(a));
        statuses << r.status;
        if (r.status == 429)
            limited = r;
    }
    QCOMPARE(statuses.mid(0, 4), (QList<int>{200, 200, 200, 200}));
    QCOMPARE(limited.status, 429);
    const int retryAfter = limited.header("retry-after").toInt();
    QVERIFY2(retryAfter >= 1 && retryAfter <= 2, limited.header("retry-after").constData());
    QVERIFY(limited.object().value(u"detail"_s).isString());
    // A limited push stores nothing.
    QCOMPARE(post(s.port, "/push", pushBody(u"flood"_s), bearer(a)).status, 429);
    VERIFY_UNCHANGED(s, before);
    // Another key is not affected.
    QCOMPARE(post(s.port, "/push", pushBody(u"other"_s), bearer(b)).status, 200);
    // After Retry-After, a is served again.
    QTest::qWait(retryAfter * 1000);
    QCOMPARE(get(s.port, "/pull", bearer(a)).status, 200);
}

void TstAccess::rateLimitPerAddressWhenOpen()
{
    Server s = start(
        Mode::Open, [](agmem::ServerConfig &c) { c.access.rateLimit = 1; }, false);
    QVERIFY(s.port);
    QList<int> statuses;
    for (int i = 0; i < 6; ++i)
        statuses << get(s.port, "/pull").status;
    QCOMPARE(statuses.mid(0, 2), (QList<int>{200, 200}));
    QVERIFY(statuses.contains(429));
    // /health is never limited (load balancers poll it).
    for (int i = 0; i < 5; ++i)
        QCOMPARE(get(s.port, "/health").status, 200);
}

// Repeated bad keys from one address: banned (429), even with a good key afterwards.
void TstAccess::authFailureBan()
{
    Server s = start(Mode::Required);
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    QList<int> statuses;
    for (int i = 0; i < 10; ++i)
        statuses << get(s.port, "/pull", bearer(agmem::ApiKey::generate())).status;
    QCOMPARE(statuses, QList<int>(10, 401));
    HttpResponse r = post(s.port, "/push", pushBody(u"guesser"_s), bearer(s.fullKey));
    QCOMPARE(r.status, 429);
    const int retryAfter = r.header("retry-after").toInt();
    QVERIFY2(retryAfter > 30 && retryAfter <= 60, r.header("retry-after").constData());
    QVERIFY(r.object().value(u"detail"_s).toString().contains(u"authentication"));
    QCOMPARE(get(s.port, "/pull", bearer(s.fullKey)).status, 429);
    // The open routes are still served.
    QCOMPARE(get(s.port, "/health").status, 200);
    s.server->stop();
    // Nothing was stored meanwhile (a new server on the same file has no ban).
    QString error;
    QVERIFY2(s.server->start(&error), qPrintable(error));
    s.port = s.server->port();
    VERIFY_UNCHANGED(s, before);
}

// Behind a trusted proxy the client address comes from X-Forwarded-For (by default): it
// shows in the request events, and rate limits and auth-failure bans apply per forwarded
// address.
void TstAccess::trustedProxy()
{
    Server s = start(
        Mode::Open,
        [](agmem::ServerConfig &c) {
            c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
            c.access.rateLimit = 1; // bursts of 2
        },
        false);
    QVERIFY(s.port);
    QList<agmem::RequestEvent> events;
    QObject context; // destroyed first: no event reaches `events` once it is gone
    connect(s.server->controller(), &agmem::ServerController::requestsFinished, &context,
            [&events](const QList<agmem::RequestEvent> &batch) { events += batch; });
    const auto pullAs = [&](const QByteArray &header, const QByteArray &value,
                            const RawHeaders &more = {}) {
        return get(s.port, "/pull", RawHeaders{{header, value}} + more);
    };

    QCOMPARE(pullAs("X-Forwarded-For", "203.0.113.7").status, 200);
    QTRY_COMPARE(events.size(), 1);
    QCOMPARE(events.last().source, u"203.0.113.7"_s);
    QCOMPARE(pullAs("X-Forwarded-For", "203.0.113.7").status, 200);
    QCOMPARE(pullAs("X-Forwarded-For", "203.0.113.7").status, 429);
    // Another forwarded client has its own bucket.
    QCOMPARE(pullAs("X-Forwarded-For", "203.0.113.8").status, 200);
    // The nearest untrusted hop counts; what the client wrote further left does not.
    QCOMPARE(pullAs("X-Forwarded-For", "10.1.1.1, 198.51.100.4").status, 200);
    QTRY_COMPARE(events.size(), 5);
    QCOMPARE(events.last().source, u"198.51.100.4"_s);
    QCOMPARE(pullAs("X-Forwarded-For", "203.0.113.9, 127.0.0.1").status, 200);
    QTRY_COMPARE(events.size(), 6);
    QCOMPARE(events.last().source, u"203.0.113.9"_s);
    QCOMPARE(pullAs("X-Forwarded-For", "[2001:db8::5]:4711").status, 200);
    QTRY_COMPARE(events.size(), 7);
    QCOMPARE(events.last().source, u"2001:db8::5"_s);
    QCOMPARE(pullAs("X-Forwarded-For", "192.0.2.60, 127.0.0.1").status, 200);
    QTRY_COMPARE(events.size(), 8);
    QCOMPARE(events.last().source, u"192.0.2.60"_s);

    // Auth-failure bans are per forwarded address.
    for (int i = 0; i < 10; ++i) {
        QCOMPARE(
            pullAs("X-Forwarded-For", "198.51.100.66", bearer(agmem::ApiKey::generate())).status,
            401);
    }
    const HttpResponse banned = pullAs("X-Forwarded-For", "198.51.100.66");
    QCOMPARE(banned.status, 429);
    QVERIFY(banned.object().value(u"detail"_s).toString().contains(u"authentication"));
    QCOMPARE(pullAs("X-Forwarded-For", "198.51.100.67").status, 200);
}

// From a peer that is not a trusted proxy, forwarding headers are ignored: the address
// cannot be spoofed to dodge limits, bans or logs.
void TstAccess::untrustedProxyHeadersIgnored()
{
    Server s = start(
        Mode::Open,
        [](agmem::ServerConfig &c) {
            c.access.trustedProxies = {{QHostAddress(u"192.0.2.1"_s), 32}};
            c.access.rateLimit = 1;
        },
        false);
    QVERIFY(s.port);
    QList<agmem::RequestEvent> events;
    QObject context; // destroyed first: no event reaches `events` once it is gone
    connect(s.server->controller(), &agmem::ServerController::requestsFinished, &context,
            [&events](const QList<agmem::RequestEvent> &batch) { events += batch; });
    QList<int> statuses;
    for (int i = 0; i < 4; ++i) {
        const QByteArray spoofed = "203.0.113." + QByteArray::number(10 + i);
        statuses << get(s.port, "/pull",
                        {{"X-Forwarded-For", spoofed}, {"Forwarded", "for=" + spoofed}})
                        .status;
    }
    // One bucket for all of them: the peer's.
    QCOMPARE(statuses.mid(0, 2), (QList<int>{200, 200}));
    QVERIFY(statuses.contains(429));
    QTRY_COMPARE(events.size(), 4);
    for (const agmem::RequestEvent &e : std::as_const(events))
        QCOMPARE(e.source, u"127.0.0.1"_s);

    // With no trusted proxy at all, the same.
    Server plain = start(Mode::Open, {}, false);
    QList<agmem::RequestEvent> plainEvents;
    QObject plainContext;
    connect(plain.server->controller(), &agmem::ServerController::requestsFinished, &plainContext,
            [&plainEvents](const QList<agmem::RequestEvent> &batch) { plainEvents += batch; });
    QCOMPARE(get(plain.port, "/pull", {{"X-Forwarded-For", "203.0.113.99"}}).status, 200);
    QTRY_COMPARE(plainEvents.size(), 1);
    QCOMPARE(plainEvents.first().source, u"127.0.0.1"_s);
}

void TstAccess::cors()
{
    Server s = start(Mode::Required, [](agmem::ServerConfig &c) {
        c.access.corsOrigins = {u"https://dash.example"_s};
    });
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    // Preflight: answered without a key (browsers send none), nothing stored.
    HttpResponse r = httpExchange(
        s.port, buildRequest("OPTIONS", "/push", {},
                             {{"Origin", "https://dash.example"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "authorization, content-type"}}));
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 204);
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("https://dash.example"));
    QVERIFY(r.header("access-control-allow-methods").contains("POST"));
    const QByteArray allowHeaders = r.header("access-control-allow-headers").toLower();
    QVERIFY(allowHeaders.contains("authorization"));
    QVERIFY(allowHeaders.contains("content-type"));
    QVERIFY(allowHeaders.contains("x-api-key"));
    VERIFY_UNCHANGED(s, before);

    // The real request carries the origin back, also on errors.
    r = get(s.port, "/pull", {{"Origin", "https://dash.example"}, bearer(s.fullKey).first()});
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("https://dash.example"));
    QVERIFY(r.header("access-control-expose-headers").toLower().contains("etag"));
    r = get(s.port, "/pull", {{"Origin", "https://dash.example"}});
    QCOMPARE(r.status, 401);
    QCOMPARE(r.header("access-control-allow-origin"), QByteArray("https://dash.example"));

    // Another origin: no CORS headers at all, and no preflight.
    r = get(s.port, "/pull", {{"Origin", "https://evil.example"}, bearer(s.fullKey).first()});
    QCOMPARE(r.status, 200);
    for (const auto &[name, value] : std::as_const(r.headers))
        QVERIFY2(!name.toLower().startsWith("access-control-"), name.constData());
    r = httpExchange(s.port, buildRequest("OPTIONS", "/push", {},
                                          {{"Origin", "https://evil.example"},
                                           {"Access-Control-Request-Method", "POST"}}));
    QVERIFY(r.status != 204);
    for (const auto &[name, value] : std::as_const(r.headers))
        QVERIFY2(!name.toLower().startsWith("access-control-"), name.constData());
    // A prefix or suffix of the allowed origin is another origin.
    r = get(s.port, "/pull", {{"Origin", "https://dash.example.evil"}, bearer(s.fullKey).first()});
    QVERIFY(!r.hasHeader("access-control-allow-origin"));
    VERIFY_UNCHANGED(s, before);
}

void TstAccess::corsUnset()
{
    Server s = start(Mode::Open, {}, false);
    QVERIFY(s.port);
    HttpResponse r = get(s.port, "/pull", {{"Origin", "https://dash.example"}});
    QCOMPARE(r.status, 200);
    for (const auto &[name, value] : std::as_const(r.headers))
        QVERIFY2(!name.toLower().startsWith("access-control-"), name.constData());
    r = httpExchange(s.port, buildRequest("OPTIONS", "/pull", {},
                                          {{"Origin", "https://dash.example"},
                                           {"Access-Control-Request-Method", "GET"}}));
    QVERIFY(r.status != 204);
    QVERIFY(!r.hasHeader("access-control-allow-origin"));
}

// A key in the URL never reaches the access log or the request events.
void TstAccess::keyNeverLogged()
{
    Server s = start(Mode::Required, [](agmem::ServerConfig &c) { c.accessLog = true; });
    QVERIFY(s.port);
    QList<agmem::RequestEvent> events;
    QObject context; // destroyed first: no event reaches `events` once it is gone
    connect(s.server->controller(), &agmem::ServerController::requestsFinished, &context,
            [&events](const QList<agmem::RequestEvent> &batch) { events += batch; });
    {
        QMutexLocker lock(&logMutex);
        logLines.clear();
    }
    const QByteArray key = s.fullKey.toLatin1();
    const QByteArray wrongKey = agmem::ApiKey::generate().toLatin1();
    QCOMPARE(get(s.port, "/k/" + key + "/pull").status, 200);
    QCOMPARE(post(s.port, "/k/" + key + "/push", pushBody(u"logged"_s)).status, 200);
    QCOMPARE(get(s.port, "/k/" + wrongKey + "/pull").status, 401);
    QCOMPARE(get(s.port, "/k/" + key).status, 200); // the root, "/k/KEY" alone
    QCOMPARE(get(s.port, "/pull", bearer(s.fullKey)).status, 200);
    QTRY_COMPARE(events.size(), 5);
    QCOMPARE(events[0].path, u"/k/***/pull"_s);
    QCOMPARE(events[1].path, u"/k/***/push"_s);
    QCOMPARE(events[2].path, u"/k/***/pull"_s);
    QCOMPARE(events[3].path, u"/k/***"_s);
    for (const agmem::RequestEvent &e : std::as_const(events)) {
        for (const QString &field : {e.path, e.source, e.note, e.agentId}) {
            QVERIFY(!field.contains(s.fullKey));
            QVERIFY(!field.contains(QString::fromLatin1(wrongKey)));
        }
    }
    QStringList lines;
    QTRY_VERIFY(([&] {
        QMutexLocker lock(&logMutex);
        lines = logLines;
        return lines.filter(u"/k/***"_s).size() >= 4;
    }()));
    for (const QString &line : std::as_const(lines)) {
        QVERIFY2(!line.contains(s.fullKey), qPrintable(line));
        QVERIFY2(!line.contains(QString::fromLatin1(wrongKey)), qPrintable(line));
        QVERIFY2(!line.contains(s.fullKey.mid(4, 12)), qPrintable(line));
    }
}

// #1: behind a trusted proxy, "from this machine" means the client the proxy names, not
// the proxy: a reset or an agent deletion from the network is refused, and the reset log
// line names the client.
void TstAccess::adminBehindProxyNeedsLocalClient()
{
    Server s = start(
        Mode::Open,
        [](agmem::ServerConfig &c) {
            c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
            c.accessLog = true;
        },
        false);
    QVERIFY(s.port);
    QCOMPARE(post(s.port, "/push", pushBody(u"kept"_s)).status, 200);
    const PullSnapshot before = snapshot(s);
    const RawHeaders remote{{"X-Forwarded-For", "203.0.113.7"}};
    HttpResponse r = httpExchange(s.port, buildRequest("DELETE", "/admin/reset", {}, remote));
    VERIFY_STATUS(r, 403);
    QVERIFY2(detailOf(r).contains(u"admin"), r.body.constData());
    r = httpExchange(s.port, buildRequest("DELETE", "/agents/kept", {}, remote));
    VERIFY_STATUS(r, 403);
    QVERIFY(!detailOf(r).isEmpty());
    // An entry that cannot be read makes the client "unknown", never this machine.
    r = httpExchange(s.port, buildRequest("DELETE", "/admin/reset", {},
                                          {{"X-Forwarded-For", "127.0.0.1, not-an-address"}}));
    VERIFY_STATUS(r, 403);
    VERIFY_UNCHANGED(s, before);

    // A client on this machine behind the proxy may reset; the log names it, not the proxy.
    {
        QMutexLocker lock(&logMutex);
        logLines.clear();
    }
    r = httpExchange(
        s.port, buildRequest("DELETE", "/admin/reset", {}, {{"X-Forwarded-For", "127.0.0.2"}}));
    VERIFY_STATUS(r, 200);
    QStringList lines;
    QTRY_VERIFY(([&] {
        QMutexLocker lock(&logMutex);
        lines = logLines.filter(u"store reset by"_s);
        return !lines.isEmpty();
    }()));
    QVERIFY2(lines.first().endsWith(u"store reset by 127.0.0.2"_s), qPrintable(lines.first()));
}

// #1/#2: /metrics is open from this machine only; behind the proxy that is the resolved
// client, and a client-sent Forwarded header does not make it "this machine".
void TstAccess::metricsBehindProxyNeedsLocalClient()
{
    Server s = start(Mode::Auto, [](agmem::ServerConfig &c) {
        c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
    });
    QVERIFY(s.port);
    VERIFY_STATUS(get(s.port, "/metrics"), 200); // from the proxy's machine, not forwarded
    VERIFY_STATUS(get(s.port, "/metrics", {{"X-Forwarded-For", "127.0.0.1"}}), 200);
    HttpResponse r = get(s.port, "/metrics", {{"X-Forwarded-For", "203.0.113.7"}});
    VERIFY_STATUS(r, 401);
    QVERIFY(!detailOf(r).isEmpty());
    // What nginx passes for a client that sent its own Forwarded: for=127.0.0.1.
    r = get(s.port, "/metrics",
            {{"Forwarded", "for=127.0.0.1"}, {"X-Forwarded-For", "203.0.113.7"}});
    VERIFY_STATUS(r, 401);
    // A client that wrote its own X-Forwarded-For: nginx appends the real address.
    r = get(s.port, "/metrics", {{"X-Forwarded-For", "127.0.0.1, 203.0.113.7"}});
    VERIFY_STATUS(r, 401);
    VERIFY_STATUS(
        get(s.port, "/metrics", {bearer(s.fullKey).first(), {"X-Forwarded-For", "203.0.113.7"}}),
        200);
}

// #2: every line of the header, in order; from the right past trusted proxies; an entry
// that does not parse is "unknown".
void TstAccess::forwardedChain()
{
    Server s = start(
        Mode::Open,
        [](agmem::ServerConfig &c) {
            c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32},
                                       {QHostAddress(u"10.0.0.0"_s), 8}};
        },
        false);
    QVERIFY(s.port);
    QList<agmem::RequestEvent> events;
    QObject context;
    connect(s.server->controller(), &agmem::ServerController::requestsFinished, &context,
            [&events](const QList<agmem::RequestEvent> &batch) { events += batch; });
    const auto sourceOf = [&](const RawHeaders &headers) -> QString {
        const qsizetype seen = events.size();
        if (get(s.port, "/health", headers).status != 200)
            return u"(request failed)"_s;
        QElapsedTimer t;
        t.start();
        while (events.size() == seen && !t.hasExpired(10000))
            QTest::qWait(10);
        return events.size() > seen ? events.last().source : u"(no event)"_s;
    };
    // Two lines: joined in order, so the second line's entry is the nearest hop.
    QCOMPARE(sourceOf({{"X-Forwarded-For", "203.0.113.1"}, {"X-Forwarded-For", "198.51.100.9"}}),
             u"198.51.100.9"_s);
    QCOMPARE(
        sourceOf({{"X-Forwarded-For", "203.0.113.1, 10.0.0.7"}, {"X-Forwarded-For", "10.0.0.8"}}),
        u"203.0.113.1"_s);
    // Every hop a trusted proxy: the farthest one is the client.
    QCOMPARE(sourceOf({{"X-Forwarded-For", "10.0.0.3, 10.0.0.4"}}), u"10.0.0.3"_s);
    // Unreadable entries on the way.
    QCOMPARE(sourceOf({{"X-Forwarded-For", "garbage"}}), u"unknown"_s);
    QCOMPARE(sourceOf({{"X-Forwarded-For", "203.0.113.1, unknown, 10.0.0.4"}}), u"unknown"_s);
    QCOMPARE(sourceOf({{"X-Forwarded-For", ""}}), u"unknown"_s);
    // Left of the client: written by the client, never read.
    QCOMPARE(sourceOf({{"X-Forwarded-For", "garbage, 203.0.113.2"}}), u"203.0.113.2"_s);
    QCOMPARE(sourceOf({{"X-Forwarded-For", "[2001:db8::7]:443, 10.0.0.1"}}), u"2001:db8::7"_s);
    QCOMPARE(sourceOf({{"X-Forwarded-For", "203.0.113.3:5555"}}), u"203.0.113.3"_s);
}

// #2: one header family, chosen by --forwarded-header; the other one is ignored.
void TstAccess::forwardedHeaderFamily()
{
    for (const bool rfc7239 : {false, true}) {
        Server s = start(
            Mode::Open,
            [rfc7239](agmem::ServerConfig &c) {
                c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
                if (rfc7239)
                    c.access.forwardedHeader = AccessConfig::ForwardedHeader::Forwarded;
            },
            false);
        QVERIFY(s.port);
        QList<agmem::RequestEvent> events;
        QObject context;
        connect(s.server->controller(), &agmem::ServerController::requestsFinished, &context,
                [&events](const QList<agmem::RequestEvent> &batch) { events += batch; });
        const RawHeaders both{{"Forwarded", "for=192.0.2.60;proto=https"},
                              {"X-Forwarded-For", "198.51.100.4"}};
        VERIFY_STATUS(get(s.port, "/health", both), 200);
        QTRY_COMPARE(events.size(), 1);
        QCOMPARE(events.last().source, rfc7239 ? u"192.0.2.60"_s : u"198.51.100.4"_s);
        if (!rfc7239)
            continue;
        VERIFY_STATUS(get(s.port, "/health",
                          {{"Forwarded", "for=\"[2001:db8::5]:4711\";proto=https"},
                           {"Forwarded", "for=203.0.113.8, for=127.0.0.1"}}),
                      200);
        QTRY_COMPARE(events.size(), 2);
        QCOMPARE(events.last().source, u"203.0.113.8"_s);
        VERIFY_STATUS(get(s.port, "/health", {{"Forwarded", "for=_hidden"}}), 200);
        QTRY_COMPARE(events.size(), 3);
        QCOMPARE(events.last().source, u"unknown"_s);
        VERIFY_STATUS(get(s.port, "/health", {{"Forwarded", "proto=https"}}), 200);
        QTRY_COMPARE(events.size(), 4);
        QCOMPARE(events.last().source, u"unknown"_s);
    }
}

// #2: bans and rate limits key on the resolved address: rotating a client-written header
// neither dodges a ban nor bans somebody else.
void TstAccess::banKeysOnResolvedAddress()
{
    Server s = start(Mode::Required, [](agmem::ServerConfig &c) {
        c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
    });
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    // The attacker (203.0.113.66 per nginx) names the victim in headers of its own.
    for (int i = 0; i < 10; ++i) {
        const QByteArray victim = "198.51.100." + QByteArray::number(i % 2 ? 20 : 21);
        const HttpResponse r = get(s.port, "/pull",
                                   {{"Forwarded", "for=" + victim},
                                    {"X-Forwarded-For", victim + ", 203.0.113.66"},
                                    bearer(agmem::ApiKey::generate()).first()});
        QCOMPARE(r.status, 401);
    }
    // The attacker is banned, whatever it writes next...
    HttpResponse r =
        get(s.port, "/pull",
            {{"X-Forwarded-For", "192.0.2.99, 203.0.113.66"}, bearer(s.fullKey).first()});
    VERIFY_STATUS(r, 429);
    QVERIFY(detailOf(r).contains(u"authentication"));
    // ...and the victims are not.
    for (const QByteArray victim : {"198.51.100.20", "198.51.100.21"}) {
        r = get(s.port, "/pull", {{"X-Forwarded-For", victim}, bearer(s.fullKey).first()});
        VERIFY_STATUS(r, 200);
    }
    VERIFY_UNCHANGED(s, before);
}

// #15: a request body must be declared JSON; a missing Content-Type is refused too.
void TstAccess::contentTypeRequired()
{
    Server s = start(Mode::Open, {}, false);
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    const QByteArray body = pushBody(u"blob"_s);
    for (const QByteArray &type :
         {QByteArray(), QByteArray("text/plain"), QByteArray("application/x-www-form-urlencoded"),
          QByteArray("multipart/form-data; boundary=x"), QByteArray("application/+json")}) {
        RawHeaders headers{{"Host", "127.0.0.1"}};
        if (!type.isEmpty())
            headers.append({"Content-Type", type});
        const HttpResponse r = rawExchange(s.port, "POST", "/push", headers, body);
        VERIFY_STATUS(r, 415);
        QVERIFY2(detailOf(r).contains(u"application/json"), r.body.constData());
    }
    // A body on a route that takes none: declared JSON or refused.
    HttpResponse r = rawExchange(s.port, "DELETE", "/admin/reset", {{"Host", "127.0.0.1"}}, "x");
    VERIFY_STATUS(r, 415);
    VERIFY_UNCHANGED(s, before);
    VERIFY_STATUS(
        rawExchange(s.port, "POST", "/push",
                    {{"Host", "127.0.0.1"}, {"Content-Type", "application/json; charset=utf-8"}},
                    body),
        200);
}

// #15: a state-changing request from a web page of another origin is refused; the
// server's own origin and --cors-origin are allowed; reads are not affected.
void TstAccess::crossSiteWritesRefused()
{
    Server s = start(
        Mode::Open,
        [](agmem::ServerConfig &c) { c.access.corsOrigins = {u"https://dash.example"_s}; }, false);
    QVERIFY(s.port);
    const QByteArray host = "127.0.0.1:" + QByteArray::number(s.port);
    const QByteArray json = "application/json";
    QCOMPARE(post(s.port, "/push", pushBody(u"kept"_s)).status, 200);
    const PullSnapshot before = snapshot(s);
    for (const QByteArray &origin :
         {QByteArray("https://evil.example"), QByteArray("null"),
          QByteArray("http://127.0.0.1:" + QByteArray::number(s.port + 1)),
          QByteArray("https://" + host), QByteArray("http://127.0.0.1.evil.example")}) {
        HttpResponse r = rawExchange(s.port, "POST", "/push",
                                     {{"Host", host}, {"Origin", origin}, {"Content-Type", json}},
                                     pushBody(u"csrf"_s));
        VERIFY_STATUS(r, 403);
        QVERIFY2(detailOf(r).contains(u"origin"), r.body.constData());
        // A Blob body without Content-Type: refused as well.
        r = rawExchange(s.port, "POST", "/push", {{"Host", host}, {"Origin", origin}},
                        pushBody(u"csrf"_s));
        QVERIFY(r.status == 403 || r.status == 415);
        QVERIFY(!detailOf(r).isEmpty());
        r = rawExchange(s.port, "DELETE", "/admin/reset", {{"Host", host}, {"Origin", origin}});
        VERIFY_STATUS(r, 403);
        r = rawExchange(s.port, "DELETE", "/agents/kept", {{"Host", host}, {"Origin", origin}});
        VERIFY_STATUS(r, 403);
    }
    VERIFY_UNCHANGED(s, before);
    // Reads from another origin go on (the browser keeps the answer from the page).
    VERIFY_STATUS(
        rawExchange(s.port, "GET", "/pull", {{"Host", host}, {"Origin", "https://evil.example"}}),
        200);
    // The server's own origin, and an allowed CORS origin, may write.
    VERIFY_STATUS(
        rawExchange(s.port, "POST", "/push",
                    {{"Host", host}, {"Origin", "http://" + host}, {"Content-Type", json}},
                    pushBody(u"same-origin"_s)),
        200);
    VERIFY_STATUS(
        rawExchange(s.port, "POST", "/push",
                    {{"Host", host}, {"Origin", "https://dash.example"}, {"Content-Type", json}},
                    pushBody(u"cors"_s)),
        200);
    const auto agents = [](const QByteArray &pull) {
        return QJsonDocument::fromJson(pull).object().value(u"contributing_agents"_s).toInt(-1);
    };
    QCOMPARE(agents(snapshot(s).body), agents(before.body) + 2);
}

// #15: DNS rebinding: on a loopback listener, a Host that is not this machine is refused
// (unless an --allowed-host, or the request came through a trusted proxy).
void TstAccess::dnsRebindingRefused()
{
    Server s = start(
        Mode::Open, [](agmem::ServerConfig &c) { c.access.allowedHosts = {u"coordinator.lan"_s}; },
        false);
    QVERIFY(s.port);
    const QByteArray port = QByteArray::number(s.port);
    QCOMPARE(post(s.port, "/push", pushBody(u"kept"_s)).status, 200);
    const PullSnapshot before = snapshot(s);
    for (const QByteArray &host :
         {QByteArray("evil.example:" + port), QByteArray("evil.example"),
          QByteArray("localhost.evil.example"), QByteArray("192.168.1.5:" + port),
          QByteArray("127.0.0.1.nip.io"), QByteArray("[::1]x"), QByteArray("localhost:0"),
          QByteArray("127.0.0.1:65536"), QByteArray("localhost:8o"), QByteArray("[::1]:123456"),
          QByteArray(":" + port), QByteArray("localhost.:" + port)}) {
        HttpResponse r = rawExchange(s.port, "DELETE", "/admin/reset", {{"Host", host}});
        VERIFY_STATUS(r, 421);
        QVERIFY2(detailOf(r).contains(u"Host"), r.body.constData());
        r = rawExchange(s.port, "GET", "/pull", {{"Host", host}});
        VERIFY_STATUS(r, 421);
        r = rawExchange(s.port, "POST", "/push",
                        {{"Host", host}, {"Content-Type", "application/json"}},
                        pushBody(u"rebound"_s));
        VERIFY_STATUS(r, 421);
    }
    VERIFY_UNCHANGED(s, before);
    for (const QByteArray &host :
         {QByteArray("localhost:" + port), QByteArray("LOCALHOST"), QByteArray("127.0.0.1"),
          QByteArray("[::1]:" + port), QByteArray("coordinator.lan:" + port),
          QByteArray("127.0.0.1:" + port), QByteArray("127.0.0.2"), QByteArray("[::1]"),
          QByteArray("LocalHost:1"), QByteArray("127.0.0.1:00080"), QByteArray(" localhost ")}) {
        VERIFY_STATUS(rawExchange(s.port, "GET", "/pull", {{"Host", host}}), 200);
    }

    // Through a trusted proxy the public Host is expected.
    Server proxied = start(
        Mode::Open,
        [](agmem::ServerConfig &c) {
            c.access.trustedProxies = {{QHostAddress(u"127.0.0.1"_s), 32}};
        },
        false);
    QVERIFY(proxied.port);
    VERIFY_STATUS(
        rawExchange(proxied.port, "GET", "/pull",
                    {{"Host", "coordinator.example.org"}, {"X-Forwarded-For", "203.0.113.5"}}),
        200);
}

// #11: control characters from a request never reach a log line raw.
void TstAccess::logForgingEscaped()
{
    Server s = start(
        Mode::Open, [](agmem::ServerConfig &c) { c.accessLog = true; }, false);
    QVERIFY(s.port);
    {
        QMutexLocker lock(&logMutex);
        logLines.clear();
    }
    const QByteArray forged = "/x%0A2026-11-30T10:00:00.000%20agmem.server%20info:%20store%20"
                              "reset%20by%20203.0.113.66%0D%1B[2J%5C";
    VERIFY_STATUS(get(s.port, forged), 404);
    // An agent id with a line break, deleted by name: that log line is escaped too.
    QCOMPARE(post(s.port, "/push", pushBody(u"evil\nagent"_s)).status, 200);
    VERIFY_STATUS(httpExchange(s.port, buildRequest("DELETE", "/agents/evil%0Aagent")), 200);
    QStringList lines;
    QTRY_VERIFY(([&] {
        QMutexLocker lock(&logMutex);
        lines = logLines;
        return lines.filter(u"deleted"_s).size() == 1 && lines.filter(u"/x"_s).size() == 1;
    }()));
    for (const QString &line : std::as_const(lines)) {
        for (const QChar c : line)
            QVERIFY2(c.unicode() >= 0x20 && c.unicode() != 0x7f,
                     line.toUtf8().toPercentEncoding(" /:").constData());
    }
    const QString access = lines.filter(u"/x"_s).first();
    QVERIFY2(access.contains(u"/x\\n2026-11-30T10:00:00.000 agmem.server info: store reset by "
                             u"203.0.113.66\\r\\x1b[2J\\\\ 404"_s),
             qPrintable(access));
    QVERIFY2(lines.filter(u"deleted"_s).first().contains(u"agent evil\\nagent deleted"_s),
             qPrintable(lines.filter(u"deleted"_s).first()));
}

// #12: a timestamp whose UTC instant leaves years 1..9999 is a 400, and nothing is stored.
void TstAccess::timestampOutsideYearsRefused()
{
    Server s = start(Mode::Open, {}, false);
    QVERIFY(s.port);
    const PullSnapshot before = snapshot(s);
    for (const QString &t : {u"9999-12-31T23:59:59-23:59"_s, u"0001-01-01T00:30:00+01:00"_s}) {
        const HttpResponse r =
            post(s.port, "/push", summaryBody(u"far"_s, t, QJsonObject{{u"t"_s, 1}}, {u"f"_s}));
        VERIFY_STATUS(r, 400);
        QVERIFY2(!detailOf(r).isEmpty(), r.body.constData());
    }
    VERIFY_UNCHANGED(s, before);
}

// HTTPS with the test certificate: push, pull and keep-alive on one TLS connection.
void TstAccess::tls()
{
    QVERIFY(QSslSocket::supportsSsl());
    const QList<QSslCertificate> certs = QSslCertificate::fromPath(testTlsCertificate());
    QCOMPARE(certs.size(), 1);

    Server s = start(Mode::Required, [&](agmem::ServerConfig &c) {
        c.tlsCertificate = testTlsCertificate();
        c.tlsKey = testTlsKey();
    });
    QVERIFY(s.port);
    QCOMPARE(s.server->controller()->url().scheme(), u"https"_s);

    QSslSocket socket;
    // Only this certificate's self-signed error is forgiven.
    socket.ignoreSslErrors({QSslError(QSslError::SelfSignedCertificate, certs.first())});
    socket.connectToHostEncrypted(u"127.0.0.1"_s, s.port);
    QVERIFY2(socket.waitForEncrypted(10000), qPrintable(socket.errorString()));
    QCOMPARE(socket.peerCertificate(), certs.first());
    QByteArray buffer;
    const QByteArray auth = "Authorization: Bearer " + s.fullKey.toLatin1() + "\r\n";
    const QByteArray body = pushBody(u"tls-agent"_s);
    socket.write("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                 auth + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    HttpResponse r = readResponseFrom(socket, buffer);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    // Same connection (keep-alive): pull sees the push.
    socket.write("GET /pull HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\n");
    r = readResponseFrom(socket, buffer);
    QVERIFY2(r.valid, qPrintable(r.error));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.object().value(u"contributing_agents"_s).toInt(), 1);
    socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    r = readResponseFrom(socket, buffer);
    QCOMPARE(r.status, 200);
    QCOMPARE(socket.state(), QAbstractSocket::ConnectedState);

    // Without the exception, a client refuses the self-signed certificate.
    QSslSocket strict;
    strict.connectToHostEncrypted(u"127.0.0.1"_s, s.port);
    QVERIFY(!strict.waitForEncrypted(5000));

    // Plain HTTP to the TLS port is not answered in plain HTTP.
    RawHttpClient plain;
    QVERIFY(plain.connectTo(s.port));
    plain.send(buildRequest("GET", "/health"));
    const HttpResponse p = plain.readResponse(false, 3000);
    QVERIFY(!p.valid);
    QVERIFY(!plain.pending().contains("HTTP/1.1 200"));
}

void TstAccess::tlsBadFiles_data()
{
    QTest::addColumn<QString>("certContent"); // empty: file missing
    QTest::addColumn<QString>("keyContent");
    QTest::addColumn<QString>("expectedInError");
    const QString garbage = u"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END "
                            u"CERTIFICATE-----\n"_s;
    QTest::addRow("missing cert") << QString() << u"x"_s << u"cert.pem"_s;
    QTest::addRow("missing key") << u"USE-REAL"_s << QString() << u"key.pem"_s;
    QTest::addRow("garbage cert") << garbage << u"USE-REAL"_s << u"cert.pem"_s;
    QTest::addRow("garbage key") << u"USE-REAL"_s << u"garbage"_s << u"key.pem"_s;
    QTest::addRow("key is the cert") << u"USE-REAL"_s << u"USE-CERT"_s << u"key.pem"_s;
    // Both files load, but the key belongs to another certificate: every handshake would fail.
    QTest::addRow("key of another certificate")
        << u"USE-REAL"_s << u"USE-OTHER"_s << u"does not belong to the certificate"_s;
}

// A bad or missing certificate or key stops the start with a clear error: never a
// fallback to plain HTTP.
void TstAccess::tlsBadFiles()
{
    QFETCH(QString, certContent);
    QFETCH(QString, keyContent);
    QFETCH(QString, expectedInError);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString realCert = testTlsCertificate();
    const QString realKey = testTlsKey();
    const QString cert = dir.filePath(u"cert.pem"_s);
    const QString key = dir.filePath(u"key.pem"_s);
    const auto write = [](const QString &path, const QString &content, const QString &real) {
        if (content.isEmpty())
            return;
        if (content == u"USE-REAL") {
            QFile::copy(real, path);
            return;
        }
        QFile f(path);
        if (f.open(QIODevice::WriteOnly))
            f.write(content.toUtf8());
    };
    write(cert, certContent, realCert);
    if (keyContent == u"USE-OTHER")
        QVERIFY(QFile::copy(testTlsOtherKey(), key));
    else
        write(key, keyContent == u"USE-CERT" ? u"USE-REAL"_s : keyContent,
              keyContent == u"USE-CERT" ? realCert : realKey);

    agmem::test::TestServer server;
    server.config.tlsCertificate = cert;
    server.config.tlsKey = key;
    QString error;
    QVERIFY(!server.start(&error));
    QVERIFY2(error.contains(expectedInError), qPrintable(error));
    QVERIFY(!server.isRunning());
}

// `agmem-coordinator keys create/list/revoke` on the database of a running server.
void TstAccess::cliKeys()
{
    const QString binary = qEnvironmentVariable("AGMEM_TEST_BINARY");
    if (binary.isEmpty())
        AGMEM_SKIP_ENVIRONMENT("AGMEM_TEST_BINARY is not set (run through ctest)");
    Server s = start(Mode::Auto, {}, false);
    QVERIFY(s.port);
    const QString db = s.server->databaseFile();
    QCOMPARE(get(s.port, "/pull").status, 200); // auto, no key yet: open

    const auto run = [&](const QStringList &args, QByteArray *out, QByteArray *err) {
        QProcess p;
        p.start(binary, args);
        if (!p.waitForFinished(30000))
            return -1;
        *out = p.readAllStandardOutput();
        *err = p.readAllStandardError();
        return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    };
    QByteArray out, err;
    QCOMPARE(
        run({u"keys"_s, u"create"_s, u"ci-agent"_s, u"--scopes"_s, u"push,pull"_s, u"--db"_s, db},
            &out, &err),
        0);
    const QString key = QString::fromUtf8(out).trimmed();
    QVERIFY2(key.startsWith(u"agm_") && key.size() == 47, out.constData());
    QVERIFY(err.contains(QByteArray("/k/" + key.toLatin1())));

    // The running server sees the key within a few seconds: required now, and it works.
    QVERIFY(waitForStatus([&] { return get(s.port, "/pull").status; }, 401));
    QCOMPARE(get(s.port, "/pull", bearer(key)).status, 200);
    QCOMPARE(post(s.port, "/k/" + key.toLatin1() + "/push", pushBody(u"cli"_s)).status, 200);

    QCOMPARE(run({u"keys"_s, u"list"_s, u"--db"_s, db}, &out, &err), 0);
    const QString listing = QString::fromUtf8(out);
    QVERIFY2(listing.contains(u"ci-agent"), out.constData());
    QVERIFY2(!listing.contains(key), "the list shows the whole key");
    QVERIFY(listing.contains(key.left(8)));
    const QRegularExpressionMatch m =
        QRegularExpression(u"^\\s*(\\d+)\\s+ci-agent"_s, QRegularExpression::MultilineOption)
            .match(listing);
    QVERIFY2(m.hasMatch(), out.constData());
    const QString id = m.captured(1);

    QCOMPARE(run({u"keys"_s, u"revoke"_s, id, u"--db"_s, db}, &out, &err), 0);
    QVERIFY(waitForStatus([&] { return get(s.port, "/pull", bearer(key)).status; }, 401));
    const HttpResponse r = post(s.port, "/k/" + key.toLatin1() + "/push", pushBody(u"gone"_s));
    QCOMPARE(r.status, 401);
    // Revoking again fails with a message.
    QVERIFY(run({u"keys"_s, u"revoke"_s, id, u"--db"_s, db}, &out, &err) != 0);
    QVERIFY(!err.isEmpty());
    QCOMPARE(run({u"keys"_s, u"list"_s, u"--db"_s, db}, &out, &err), 0);
    QVERIFY(QString::fromUtf8(out).contains(u"revoked"));
}

QTEST_GUILESS_MAIN(TstAccess)

#include "tst_access.moc"
