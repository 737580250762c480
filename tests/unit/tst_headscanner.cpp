// RequestHeadScanner: the guard's view of a byte stream of HTTP/1.x requests. Every row is
// fed whole, byte by byte, and in pseudo-random pieces: the verdict and the heads found must
// not depend on how the bytes arrived (the fuzz target checks the same property).
#include "server/requestheadscanner.h"

#include <QFile>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QtTest>

using namespace Qt::StringLiterals;
using agmem::ConnectionLimits;
using agmem::RequestHeadScanner;

namespace {

struct FeedResult
{
    int status = 0;
    QStringList heads;
    bool failed = false;
    bool inRequest = false;
};

QString describe(const RequestHeadScanner::Head &head)
{
    QString s = head.closeAfterResponse ? u"close"_s : u"keep-alive"_s;
    if (head.expectContinue)
        s += u" continue"_s;
    return s + u' ' + QString::number(head.contentLength);
}

// Feeds `bytes` in pieces of the sizes `nextPiece` returns.
template <typename NextPiece>
FeedResult feedIn(const ConnectionLimits &limits, const QByteArray &bytes, NextPiece nextPiece)
{
    RequestHeadScanner scanner(limits);
    QList<RequestHeadScanner::Head> heads;
    FeedResult r;
    qsizetype pos = 0;
    while (pos < bytes.size() && !scanner.failed()) {
        const qsizetype piece = std::min<qsizetype>(bytes.size() - pos, nextPiece());
        const RequestHeadScanner::Verdict verdict =
            scanner.feed(bytes.constData() + pos, piece, &heads);
        if (verdict.status) {
            r.status = verdict.status;
            if (verdict.detail.isEmpty())
                r.status = -1; // every refusal says why
        }
        pos += piece;
    }
    for (const RequestHeadScanner::Head &head : std::as_const(heads))
        r.heads << describe(head);
    r.failed = scanner.failed();
    r.inRequest = scanner.inRequest();
    return r;
}

ConnectionLimits limits(int maxHead, qint64 maxBody)
{
    ConnectionLimits l;
    l.maxHeadBytes = maxHead;
    l.maxBodyBytes = maxBody;
    return l;
}

QByteArray get(const QByteArray &extraHeaders = {}, const QByteArray &version = "HTTP/1.1")
{
    return "GET /pull " + version + "\r\nHost: 127.0.0.1\r\n" + extraHeaders + "\r\n";
}

// A head of exactly `size` bytes before its CRLFCRLF.
// Header fields stay within QHttpServer's 8 KiB per field.
QByteArray headOfSize(int size)
{
    QByteArray head = "GET / HTTP/1.1";
    while (head.size() < size) {
        const qsizetype room = size - head.size();
        if (room < 6 && head.contains('\n')) {
            head += QByteArray(room, 'a');
            break;
        }
        head += "\r\nX: " + QByteArray(std::min<qsizetype>(room - 5, 4000), 'a');
    }
    Q_ASSERT(head.size() == size);
    return head + "\r\n\r\n";
}

} // namespace

class TstHeadScanner : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void scan_data();
    void scan();
    void clientPush();
    void defaultLimits();
    void bodyIsNotScannedForHeads();
    void stopsAfterRefusal();
    void nothingAfterClose_data();
    void nothingAfterClose();
    void caseFoldingLikeQt();
    void framedHeadsKeepTheirOwnBytes();
};

// Framing shares the previous head's bytes where the next head repeats them: each head
// still carries exactly its own target and fields, whatever the one before held.
void TstHeadScanner::framedHeadsKeepTheirOwnBytes()
{
    const QByteArray stream = "POST /push HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\n\r\n"
                              "GET /pull HTTP/1.1\r\nHost: b\r\nContent-Type: x\r\nX: 1\r\n\r\n"
                              "GET /pull HTTP/1.1\r\nhost: b\r\n\r\n"
                              "POST /push HTTP/1.1\r\nHost: a\r\nContent-Type: x\r\n\r\n";
    QList<RequestHeadScanner::Head> heads;
    // One byte at a time, then all at once: the same heads.
    for (const bool byByte : {true, false}) {
        heads.clear();
        RequestHeadScanner s(limits(1024, 1024));
        s.setFraming(true);
        if (byByte) {
            for (const char c : stream)
                QCOMPARE(s.feed(&c, 1, &heads).status, 0);
        } else {
            QCOMPARE(s.feed(stream.constData(), stream.size(), &heads).status, 0);
        }
        QCOMPARE(heads.size(), 4);
        using Fields = QList<QPair<QByteArray, QByteArray>>;
        QCOMPARE(heads[0].method, QByteArray("POST"));
        QCOMPARE(heads[0].target, QByteArray("/push"));
        QCOMPARE(heads[0].fields, (Fields{{"Host", "a"}, {"Content-Type", "x"}}));
        QCOMPARE(heads[1].method, QByteArray("GET"));
        QCOMPARE(heads[1].target, QByteArray("/pull"));
        QCOMPARE(heads[1].fields, (Fields{{"Host", "b"}, {"Content-Type", "x"}, {"X", "1"}}));
        QCOMPARE(heads[2].target, QByteArray("/pull"));
        QCOMPARE(heads[2].fields, (Fields{{"host", "b"}}));
        QCOMPARE(heads[3].fields, heads[0].fields);
        // A field changed in one head changes nothing in another that shares its bytes.
        heads[3].fields[0].second += "z";
        QCOMPARE(heads[0].fields[0].second, QByteArray("a"));
    }
}

// agmem::equalsIgnoringCase() folds exactly as QByteArrayView::compare(Qt::CaseInsensitive) does
// (qstrnicmp), for every pair of bytes and for names of several lengths.
void TstHeadScanner::caseFoldingLikeQt()
{
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            const char x = char(a);
            const char y = char(b);
            const QByteArrayView u(&x, 1);
            const QByteArrayView v(&y, 1);
            if (agmem::equalsIgnoringCase(u, v) != (u.compare(v, Qt::CaseInsensitive) == 0))
                QFAIL(qPrintable(u"bytes %1 and %2"_s.arg(a).arg(b)));
        }
    }
    QVERIFY(agmem::equalsIgnoringCase("Content-Length", "content-length"));
    QVERIFY(agmem::equalsIgnoringCase("", ""));
    QVERIFY(!agmem::equalsIgnoringCase("Content-Length", "content-lengtH2"));
    QVERIFY(!agmem::equalsIgnoringCase("Content-Length", "content-lenght"));
    QVERIFY(!agmem::equalsIgnoringCase("X-A", "X-A "));
    QVERIFY(!agmem::equalsIgnoringCase("[", "{"));
}

void TstHeadScanner::scan_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("maxHead");
    QTest::addColumn<qint64>("maxBody");
    QTest::addColumn<int>("status");
    QTest::addColumn<QStringList>("heads");
    QTest::addColumn<bool>("inRequest");

    const int H = 16 * 1024;
    const qint64 B = 1000;
    const QStringList none;
    const QStringList keep{u"keep-alive 0"_s};

    QTest::addRow("simple GET") << get() << H << B << 0 << keep << false;
    QTest::addRow("partial head") << QByteArray("GET /pull HTTP/1.1\r\nHost: x\r\n") << H << B << 0
                                  << none << true;
    QTest::addRow("pipelined heads") << QByteArray(get() + get() + get()) << H << B << 0
                                     << QStringList{keep[0], keep[0], keep[0]} << false;
    QTest::addRow("POST then GET")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get()) << H << B
        << 0 << QStringList{u"keep-alive 5"_s, keep[0]} << false;
    QTest::addRow("body still to come")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello") << H << B << 0
        << QStringList{u"keep-alive 10"_s} << true;
    QTest::addRow("blank lines before the request line")
        << QByteArray("\r\n\r\n\n" + get()) << H << B << 0 << keep << false;
    QTest::addRow("bare LF line ends")
        << QByteArray("GET /pull HTTP/1.1\nHost: x\n\n") << H << B << 0 << keep << false;

    // Found by fuzz_headscanner: the head ends at the FIRST empty line, whichever line
    // ending it uses (the guard searched for CRLFCRLF first and skipped an earlier LFLF,
    // so it and QHttpServer disagreed on where requests start).
    QTest::addRow("LFLF before CRLFCRLF")
        << QByteArray("GET / HTTP/1.1\nA: b\n\nGET / HTTP/1.1\r\n\r\n") << H << B << 0
        << QStringList{keep[0], keep[0]} << false;
    QTest::addRow("CRLF LF ends the head")
        << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\nGET / HTTP/1.1\r\n\r\n") << H << B << 0
        << QStringList{keep[0], keep[0]} << false;
    QTest::addRow("LF CRLF ends the head")
        << QByteArray("GET / HTTP/1.1\nHost: x\n\r\nGET / HTTP/1.1\r\n\r\n") << H << B << 0
        << QStringList{keep[0], keep[0]} << false;
    QTest::addRow("fuzz crash-0be05d0f")
        << QByteArray::fromBase64(
               "R0VUIC9wdWxsIEhUVFAvMS4xDQpYOiBhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
               "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhW1tbW1tbW1tbW1tbW1sKCgoKCgoKCgoK"
               "CgoKCgoxUE9TVCAvcHVzaCBIVFRhYWENCg0K")
        << 256 << qint64(1024) << 400 << keep << false;
    QTest::addRow("fuzz crash-48a45aa9")
        << QByteArray::fromBase64("R0VUIC9wdWxsIEhUVFAvMS4xDQpIb3N0OiB4DQoKR0VUBQAAACAv6GVhbHRoIE"
                                  "hUVFAvMS5vbjp0OiB4DQoNCg==")
        << 256 << qint64(1024) << 400 << keep << false;
    // Found by fuzz_headscanner: a head of exactly the limit got 431 when its last bytes
    // arrived in a later read (the partial head was compared with the limit before its
    // terminator could arrive).
    QTest::addRow("fuzz crash-e5c86eec")
        << QByteArray::fromBase64(
               "ISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhLV5eXl5eXl5eXl5eXl5eXl5eXl5e"
               "Xl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eDW4KQ29udGVudC1MZW5ndGg6//8g"
               "MXgNMVBPU1QgLwpwdXNoIEhUVFAvMQ0uMQ0KQw0xUE9TVF5eXl5eXl5eXl5eXl5eXl5eXl5eXiEhISEh"
               "ISEhISEhISEhISEhISEhISEhISEhISEhISEhIUdFVCUgLyl1L3UBAAAAbGwgAAAAAAAAAAD//0hviXT/"
               "//////8AAAAAAAAteA0KDQo=")
        << 256 << qint64(1024) << 400 << none << false;

    // 431 at the boundary: the limit counts the request line and headers, not the
    // terminating blank line.
    QTest::addRow("head at the limit") << headOfSize(64) << 64 << B << 0 << keep << false;
    QTest::addRow("head at the limit, LF ends")
        << QByteArray(headOfSize(64).chopped(4) + "\n\n") << 64 << B << 0 << keep << false;
    QTest::addRow("head one over the limit") << headOfSize(65) << 64 << B << 431 << none << false;
    QTest::addRow("no terminator, 3 over the limit")
        << headOfSize(67).chopped(4) << 64 << B << 0 << none << true;
    QTest::addRow("no terminator, 4 over the limit")
        << headOfSize(68).chopped(4) << 64 << B << 431 << none << false;
    QTest::addRow("second head over the limit")
        << QByteArray(get() + headOfSize(65)) << 64 << B << 431 << keep << false;

    // 413 from Content-Length, before any body byte.
    QTest::addRow("body at the limit")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: 1000\r\n\r\n") << H << B << 0
        << QStringList{u"keep-alive 1000"_s} << true;
    QTest::addRow("body one over the limit")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: 1001\r\n\r\n") << H << B << 413
        << none << false;
    QTest::addRow("body 200 MB") << QByteArray(
                                        "POST /push HTTP/1.1\r\nContent-Length: 209715200\r\n\r\n")
                                 << H << B << 413 << none << false;
    QTest::addRow("Content-Length beyond 64 bits")
        << QByteArray("POST /push HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") << H
        << B << 400 << none << false;

    QTest::addRow("chunked") << QByteArray("POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                           "\r\n5\r\nhello\r\n0\r\n\r\n")
                             << H << B << 411 << none << false;
    QTest::addRow("any Transfer-Encoding")
        << QByteArray("POST /push HTTP/1.1\r\ntransfer-encoding: gzip\r\nContent-Length: 3\r\n\r\n")
        << H << B << 411 << none << false;

    // 400: malformed request lines.
    const QByteArrayList badLines{"GET /pull",
                                  "GET /pull HTTP/1.1 extra",
                                  "GET  /pull HTTP/1.1",
                                  "GET /pull  HTTP/1.1",
                                  "G(T /pull HTTP/1.1",
                                  "GET /pull HTTP/2.0",
                                  "GET /pull HTTP/1.10",
                                  "GET /pull HTTP/1.2",
                                  "GET /pull http/1.1",
                                  "\x01GET /pull HTTP/1.1",
                                  "garbage"};
    for (const QByteArray &line : badLines) {
        QTest::addRow("request line \"%s\"", line.toPercentEncoding(" /.()").constData())
            << QByteArray(line + "\r\nHost: x\r\n\r\n") << H << B << 400 << none << false;
    }
    // 400: malformed headers.
    const QByteArrayList badHeaders{"no colon",   ": empty name", "Bad Name: x",
                                    "Bad\x7f: x", " folded: x",   "\tfolded: x"};
    for (const QByteArray &header : badHeaders) {
        QTest::addRow("header \"%s\"", header.toPercentEncoding(" :").constData())
            << get(header + "\r\n") << H << B << 400 << none << false;
    }
    QTest::addRow("folded continuation")
        << get("X-A: b\r\n  continued\r\n") << H << B << 400 << none << false;
    const QByteArrayList badLengths{"abc", "-1", "+5", "5x", "", "0x10", "1 2"};
    for (const QByteArray &length : badLengths) {
        QTest::addRow("Content-Length \"%s\"", length.constData())
            << get("Content-Length: " + length + "\r\n") << H << B << 400 << none << false;
    }
    QTest::addRow("conflicting Content-Length")
        << get("Content-Length: 5\r\nContent-Length: 6\r\n") << H << B << 400 << none << false;
    QTest::addRow("repeated equal Content-Length")
        << QByteArray(get("Content-Length: 5\r\ncontent-length: 5\r\n") + "hello") << H << B << 0
        << QStringList{u"keep-alive 5"_s} << false;
    QTest::addRow("Content-Length with spaces")
        << QByteArray(get("Content-Length:   3  \r\n") + "abc") << H << B << 0
        << QStringList{u"keep-alive 3"_s} << false;

    QTest::addRow("Expect other") << get("Expect: 200-ok\r\n") << H << B << 417 << none << false;
    QTest::addRow("Expect 100-continue")
        << QByteArray(get("Expect: 100-Continue\r\nContent-Length: 3\r\n") + "abc") << H << B << 0
        << QStringList{u"keep-alive continue 3"_s} << false;
    QTest::addRow("Expect 100-continue, too large")
        << get("Expect: 100-continue\r\nContent-Length: 1001\r\n") << H << B << 413 << none
        << false;
    QTest::addRow("Expect 100-continue over HTTP/1.0")
        << get("Expect: 100-continue\r\n", "HTTP/1.0") << H << B << 0 << QStringList{u"close 0"_s}
        << false;

    QTest::addRow("HTTP/1.0") << get({}, "HTTP/1.0") << H << B << 0 << QStringList{u"close 0"_s}
                              << false;
    QTest::addRow("HTTP/1.0 keep-alive")
        << get("Connection: Keep-Alive\r\n", "HTTP/1.0") << H << B << 0 << keep << false;
    QTest::addRow("HTTP/1.0 close wins") << get("Connection: keep-alive, close\r\n", "HTTP/1.0")
                                         << H << B << 0 << QStringList{u"close 0"_s} << false;
    QTest::addRow("Connection: close")
        << get("Connection: close\r\n") << H << B << 0 << QStringList{u"close 0"_s} << false;
    QTest::addRow("Connection: CLOSE in a list") << get("connection: Upgrade, CLOSE\r\n") << H << B
                                                 << 0 << QStringList{u"close 0"_s} << false;
    QTest::addRow("Connection: closed is not close")
        << get("Connection: closed\r\n") << H << B << 0 << keep << false;

    // QHttpServer 6.4 drops every header of a head with more than 100 fields or a field
    // longer than 8 KiB, and then reads the body as the next request: 431 (issue 11).
    auto fields = [](int n) {
        QByteArray extra;
        for (int i = 0; i < n; ++i)
            extra += "X-F" + QByteArray::number(i) + ": v\r\n";
        return extra;
    };
    QTest::addRow("100 header fields") << get(fields(99)) << H << B << 0 << keep << false;
    QTest::addRow("101 header fields") << get(fields(100)) << H << B << 431 << none << false;
    const QByteArray fieldName = "X-Long: ";
    QTest::addRow("header field of 8 KiB")
        << get(fieldName + QByteArray(8192 - fieldName.size(), 'a') + "\r\n") << H << B << 0 << keep
        << false;
    QTest::addRow("header field of 8 KiB + 1")
        << get(fieldName + QByteArray(8193 - fieldName.size(), 'a') + "\r\n") << H << B << 431
        << none << false;
    QTest::addRow("smuggled chunked push behind 101 fields")
        << QByteArray(get(fields(100) + "Content-Length: 63\r\n") +
                      "POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        << H << B << 431 << none << false;
    // QHttpServer 6.4 answers a WebSocket upgrade twice (the request, then 404).
    QTest::addRow("WebSocket upgrade")
        << get("Connection: Upgrade\r\nUpgrade: websocket\r\n") << H << B << 400 << none << false;
    QTest::addRow("WebSocket upgrade, keep-alive list")
        << get("Connection: keep-alive, upgrade\r\nUpgrade: WebSocket\r\n") << H << B << 400 << none
        << false;
    QTest::addRow("Upgrade without Connection: upgrade")
        << get("Upgrade: websocket\r\n") << H << B << 0 << keep << false;
    QTest::addRow("Upgrade to something else")
        << get("Connection: upgrade\r\nUpgrade: h2c\r\n") << H << B << 0 << keep << false;
    // Blank lines start a request as far as the read timeout goes (issue 11).
    QTest::addRow("only blank lines") << QByteArray("\r\n\r\n") << H << B << 0 << none << true;
    QTest::addRow("close on the second of two")
        << QByteArray(get() + get("Connection: close\r\n")) << H << B << 0
        << QStringList{keep[0], u"close 0"_s} << false;
}

void TstHeadScanner::scan()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, maxHead);
    QFETCH(qint64, maxBody);
    QFETCH(int, status);
    QFETCH(QStringList, heads);
    QFETCH(bool, inRequest);
    const ConnectionLimits l = limits(maxHead, maxBody);

    const FeedResult whole = feedIn(l, bytes, [&] { return bytes.size(); });
    QCOMPARE(whole.status, status);
    QCOMPARE(whole.heads, heads);
    QCOMPARE(whole.failed, status != 0);
    // (After a refusal the connection is closed: inRequest no longer matters.)
    if (status == 0)
        QCOMPARE(whole.inRequest, inRequest);

    const FeedResult single = feedIn(l, bytes, [] { return 1; });
    QCOMPARE(single.status, status);
    QCOMPARE(single.heads, heads);
    if (status == 0)
        QCOMPARE(single.inRequest, inRequest);

    QRandomGenerator random(42);
    for (int round = 0; round < 20; ++round) {
        const FeedResult pieces = feedIn(l, bytes, [&] { return 1 + random.bounded(9); });
        QCOMPARE(pieces.status, status);
        QCOMPARE(pieces.heads, heads);
        if (status == 0)
            QCOMPARE(pieces.inRequest, inRequest);
    }
}

// The real agmem client's request, byte for byte: accepted, closes after the answer.
void TstHeadScanner::clientPush()
{
    QFile file(QStringLiteral(AGMEM_SOURCE_DIR "/tests/data/client-push.http"));
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    const FeedResult r = feedIn(ConnectionLimits(), bytes, [] { return 1; });
    QCOMPARE(r.status, 0);
    QCOMPARE(r.heads, QStringList{u"close 205"_s});
    QVERIFY(!r.inRequest); // the whole body was counted
}

void TstHeadScanner::defaultLimits()
{
    const ConnectionLimits l;
    QCOMPARE(l.maxHeadBytes, 16 * 1024);
    QCOMPARE(l.maxConnections, 1024);
    QCOMPARE(l.idleTimeoutMs, 15000);
    QCOMPARE(l.readTimeoutMs, 30000);
    QCOMPARE(feedIn(l, headOfSize(16 * 1024), [] { return 1000; }).status, 0);
    QCOMPARE(feedIn(l, headOfSize(16 * 1024 + 1), [] { return 1000; }).status, 431);
}

// A body that looks like requests is skipped by length, never parsed as heads.
void TstHeadScanner::bodyIsNotScannedForHeads()
{
    const QByteArray inner = "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    const QByteArray bytes =
        "POST /push HTTP/1.1\r\nContent-Length: " + QByteArray::number(inner.size()) + "\r\n\r\n" +
        inner + get();
    const FeedResult r = feedIn(ConnectionLimits(), bytes, [] { return 3; });
    QCOMPARE(r.status, 0);
    QCOMPARE(r.heads,
             (QStringList{u"keep-alive "_s + QString::number(inner.size()), u"keep-alive 0"_s}));
}

// After a refusal the scanner takes nothing more: the connection is being closed.
void TstHeadScanner::stopsAfterRefusal()
{
    RequestHeadScanner scanner{ConnectionLimits()};
    QList<RequestHeadScanner::Head> heads;
    const QByteArray bad = "BAD\r\n\r\n";
    QCOMPARE(scanner.feed(bad.constData(), bad.size(), &heads).status, 400);
    QVERIFY(scanner.failed());
    const QByteArray good = get();
    QCOMPARE(scanner.feed(good.constData(), good.size(), &heads).status, 0);
    QVERIFY(heads.isEmpty());
    QVERIFY(scanner.failed());
}

// Requests pipelined after one that closes the connection are never read (issue 11):
// every byte after it is reported for discarding, however the bytes arrive.
void TstHeadScanner::nothingAfterClose_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QStringList>("heads");
    QTest::addColumn<int>("discarded");
    const QByteArray push = "POST /push HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    QTest::addRow("after Connection: close") << QByteArray(get("Connection: close\r\n") + push)
                                             << QStringList{u"close 0"_s} << int(push.size());
    QTest::addRow("after HTTP/1.0")
        << QByteArray(get({}, "HTTP/1.0") + push) << QStringList{u"close 0"_s} << int(push.size());
    QTest::addRow("after a closing request's body")
        << QByteArray("POST /push HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}" +
                      push)
        << QStringList{u"close 2"_s} << int(push.size());
    QTest::addRow("keep-alive: nothing discarded")
        << QByteArray(get() + push) << QStringList{u"keep-alive 0"_s, u"keep-alive 2"_s} << 0;
}

void TstHeadScanner::nothingAfterClose()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QStringList, heads);
    QFETCH(int, discarded);
    for (int piece : {int(bytes.size()), 1, 3, 7}) {
        RequestHeadScanner scanner{ConnectionLimits()};
        QList<RequestHeadScanner::Head> found;
        qsizetype dropped = 0;
        for (qsizetype pos = 0; pos < bytes.size(); pos += piece) {
            const qsizetype n = std::min<qsizetype>(piece, bytes.size() - pos);
            const RequestHeadScanner::Verdict verdict =
                scanner.feed(bytes.constData() + pos, n, &found);
            QCOMPARE(verdict.status, 0);
            if (verdict.discardFrom >= 0)
                dropped += n - verdict.discardFrom;
        }
        QStringList described;
        for (const RequestHeadScanner::Head &head : std::as_const(found))
            described << describe(head);
        QCOMPARE(described, heads);
        QCOMPARE(dropped, qsizetype(discarded));
        QCOMPARE(scanner.closed(), discarded > 0);
    }
}

QTEST_APPLESS_MAIN(TstHeadScanner)

#include "tst_headscanner.moc"
