// RateLimiter (token buckets) and AuthFailureThrottle (bans after repeated auth failures),
// driven by a clock the test controls.
#include "core/ratelimiter.h"

#include <QStandardPaths>
#include <QtTest>

using namespace Qt::StringLiterals;
using agmem::AuthFailureThrottle;
using agmem::RateLimiter;

class TstRateLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void burstThenRefused();
    void refillsAtTheRate();
    void retryAfter_data();
    void retryAfter();
    void retryAfterIsHonest();
    void separateBuckets();
    void disabled();
    void clockGoingBackwards();
    void prune();

    void banAfterMaxFailures();
    void banExpires();
    void failuresOutsideTheWindow();
    void successResetsTheCount();
    void successDoesNotLiftABan();
    void banIsPerAddress();
    void pruneThrottle();
};

void TstRateLimiter::burstThenRefused()
{
    RateLimiter limiter(10, 20);
    QVERIFY(limiter.enabled());
    for (int i = 0; i < 20; ++i)
        QVERIFY2(limiter.take(u"a"_s, 1000).allowed, qPrintable(QString::number(i)));
    const RateLimiter::Decision refused = limiter.take(u"a"_s, 1000);
    QVERIFY(!refused.allowed);
    QCOMPARE(refused.retryAfterSeconds, 1);
    // Refusals do not consume anything, and do not push the next token further away.
    QVERIFY(!limiter.take(u"a"_s, 1000).allowed);
    QVERIFY(limiter.take(u"a"_s, 1100).allowed);
}

void TstRateLimiter::refillsAtTheRate()
{
    RateLimiter limiter(10, 2);
    QVERIFY(limiter.take(u"a"_s, 0).allowed);
    QVERIFY(limiter.take(u"a"_s, 0).allowed);
    QVERIFY(!limiter.take(u"a"_s, 0).allowed);
    QVERIFY(!limiter.take(u"a"_s, 50).allowed); // 0.5 tokens
    QVERIFY(limiter.take(u"a"_s, 100).allowed); // 1 token
    QVERIFY(!limiter.take(u"a"_s, 100).allowed);
    // A long pause refills to the burst, not beyond.
    QVERIFY(limiter.take(u"a"_s, 1'000'000).allowed);
    QVERIFY(limiter.take(u"a"_s, 1'000'000).allowed);
    QVERIFY(!limiter.take(u"a"_s, 1'000'000).allowed);
}

void TstRateLimiter::retryAfter_data()
{
    QTest::addColumn<double>("rate");
    QTest::addColumn<double>("burst");
    QTest::addColumn<qint64>("afterMs"); // since the bucket ran dry
    QTest::addColumn<int>("retryAfter");

    QTest::addRow("fast rate: at least 1 s") << 100.0 << 1.0 << qint64(0) << 1;
    QTest::addRow("one every 2 s, dry") << 0.5 << 1.0 << qint64(0) << 2;
    QTest::addRow("one every 2 s, 1 s later") << 0.5 << 1.0 << qint64(1000) << 1;
    QTest::addRow("one every 2 s, 1.5 s later") << 0.5 << 1.0 << qint64(1500) << 1;
    QTest::addRow("one every 10 s, dry") << 0.1 << 3.0 << qint64(0) << 10;
    QTest::addRow("one every 10 s, 2.5 s later") << 0.1 << 3.0 << qint64(2500) << 8;
    QTest::addRow("one every 4 s, 3 s later") << 0.25 << 1.0 << qint64(3000) << 1;
    QTest::addRow("one every 4 s, 1 s later") << 0.25 << 1.0 << qint64(1000) << 3;
}

void TstRateLimiter::retryAfter()
{
    QFETCH(double, rate);
    QFETCH(double, burst);
    QFETCH(qint64, afterMs);
    QFETCH(int, retryAfter);
    RateLimiter limiter(rate, burst);
    const qint64 start = 5000;
    for (int i = 0; i < int(burst); ++i)
        QVERIFY(limiter.take(u"c"_s, start).allowed);
    const RateLimiter::Decision d = limiter.take(u"c"_s, start + afterMs);
    QVERIFY(!d.allowed);
    QCOMPARE(d.retryAfterSeconds, retryAfter);
}

// Waiting exactly Retry-After seconds is always enough.
void TstRateLimiter::retryAfterIsHonest()
{
    for (const double rate : {0.1, 0.3, 0.7, 1.0, 3.0, 50.0}) {
        RateLimiter limiter(rate, 2);
        qint64 now = 0;
        int allowed = 0;
        for (int i = 0; i < 50; ++i) {
            const RateLimiter::Decision d = limiter.take(u"x"_s, now);
            if (d.allowed) {
                ++allowed;
                continue;
            }
            QVERIFY(d.retryAfterSeconds >= 1);
            now += d.retryAfterSeconds * 1000;
            QVERIFY2(limiter.take(u"x"_s, now).allowed, qPrintable(QString::number(rate)));
            ++allowed;
        }
        QVERIFY(allowed > 2);
    }
}

void TstRateLimiter::separateBuckets()
{
    RateLimiter limiter(1, 2);
    QVERIFY(limiter.take(u"key:1"_s, 0).allowed);
    QVERIFY(limiter.take(u"key:1"_s, 0).allowed);
    QVERIFY(!limiter.take(u"key:1"_s, 0).allowed);
    // Another client still has its whole burst.
    QVERIFY(limiter.take(u"key:2"_s, 0).allowed);
    QVERIFY(limiter.take(u"key:2"_s, 0).allowed);
    QVERIFY(!limiter.take(u"key:2"_s, 0).allowed);
    QVERIFY(limiter.take(u"addr:127.0.0.1"_s, 0).allowed);
    QCOMPARE(limiter.size(), 3);
}

void TstRateLimiter::disabled()
{
    RateLimiter limiter(0, 0);
    QVERIFY(!limiter.enabled());
    for (int i = 0; i < 10000; ++i)
        QVERIFY(limiter.take(u"a"_s, 0).allowed);
    QCOMPARE(limiter.size(), 0); // nothing kept per client
}

void TstRateLimiter::clockGoingBackwards()
{
    RateLimiter limiter(1, 1);
    QVERIFY(limiter.take(u"a"_s, 10'000).allowed);
    QVERIFY(!limiter.take(u"a"_s, 0).allowed);
    QVERIFY(!limiter.take(u"a"_s, 10'500).allowed);
    QVERIFY(limiter.take(u"a"_s, 11'000).allowed);
}

void TstRateLimiter::prune()
{
    RateLimiter limiter(1, 2);
    for (int i = 0; i < 100; ++i)
        QVERIFY(limiter.take(u"idle-%1"_s.arg(i), 0).allowed);
    QVERIFY(limiter.take(u"busy"_s, 0).allowed);
    QVERIFY(limiter.take(u"busy"_s, 0).allowed);
    QVERIFY(limiter.take(u"busy"_s, 1000).allowed);
    QCOMPARE(limiter.size(), 101);
    limiter.prune(500); // nobody is full yet (idle ones have 1.5 tokens)
    QCOMPARE(limiter.size(), 101);
    limiter.prune(1000); // idle buckets are full again: dropped; busy has 0 tokens
    QCOMPARE(limiter.size(), 1);
    // A pruned client starts over with a full bucket: pruning never grants more than that.
    QVERIFY(limiter.take(u"idle-1"_s, 1000).allowed);
    QVERIFY(limiter.take(u"idle-1"_s, 1000).allowed);
    QVERIFY(!limiter.take(u"idle-1"_s, 1000).allowed);
    // The drained one was kept, so it is still refused.
    QVERIFY(!limiter.take(u"busy"_s, 1000).allowed);
    limiter.prune(10'000);
    QCOMPARE(limiter.size(), 0);
}

void TstRateLimiter::banAfterMaxFailures()
{
    AuthFailureThrottle throttle(3, 60'000, 5000);
    const QString a = u"10.0.0.1"_s;
    QCOMPARE(throttle.bannedFor(a, 0), 0);
    throttle.recordFailure(a, 100);
    throttle.recordFailure(a, 200);
    QCOMPARE(throttle.bannedFor(a, 200), 0);
    throttle.recordFailure(a, 300);
    QCOMPARE(throttle.bannedFor(a, 300), 5);
    QCOMPARE(throttle.bannedFor(a, 1300), 4);
    QCOMPARE(throttle.bannedFor(a, 5299), 1);
}

void TstRateLimiter::banExpires()
{
    AuthFailureThrottle throttle(2, 60'000, 10'000);
    const QString a = u"a"_s;
    throttle.recordFailure(a, 0);
    throttle.recordFailure(a, 0);
    QCOMPARE(throttle.bannedFor(a, 9999), 1);
    QCOMPARE(throttle.bannedFor(a, 10'000), 0);
    // The count started over with the ban: one more failure is not a new ban.
    throttle.recordFailure(a, 10'001);
    QCOMPARE(throttle.bannedFor(a, 10'001), 0);
    throttle.recordFailure(a, 10'002);
    QCOMPARE(throttle.bannedFor(a, 10'002), 10);
}

void TstRateLimiter::failuresOutsideTheWindow()
{
    AuthFailureThrottle throttle(3, 1000, 5000);
    const QString a = u"a"_s;
    throttle.recordFailure(a, 0);
    throttle.recordFailure(a, 600);
    throttle.recordFailure(a, 1700); // the window started at 0: this one starts a new one
    throttle.recordFailure(a, 1800);
    QCOMPARE(throttle.bannedFor(a, 1800), 0);
    throttle.recordFailure(a, 1900); // third within [1700, 2700]
    QCOMPARE(throttle.bannedFor(a, 1900), 5);
}

void TstRateLimiter::successResetsTheCount()
{
    AuthFailureThrottle throttle(3, 60'000, 5000);
    const QString a = u"a"_s;
    throttle.recordFailure(a, 0);
    throttle.recordFailure(a, 0);
    throttle.recordSuccess(a);
    throttle.recordFailure(a, 0);
    throttle.recordFailure(a, 0);
    QCOMPARE(throttle.bannedFor(a, 0), 0);
    throttle.recordFailure(a, 0);
    QCOMPARE(throttle.bannedFor(a, 0), 5);
}

void TstRateLimiter::successDoesNotLiftABan()
{
    AuthFailureThrottle throttle(1, 60'000, 5000);
    throttle.recordFailure(u"a"_s, 0);
    QCOMPARE(throttle.bannedFor(u"a"_s, 0), 5);
    throttle.recordSuccess(u"a"_s);
    QCOMPARE(throttle.bannedFor(u"a"_s, 1000), 4);
}

void TstRateLimiter::banIsPerAddress()
{
    AuthFailureThrottle throttle(2, 60'000, 5000);
    throttle.recordFailure(u"a"_s, 0);
    throttle.recordFailure(u"a"_s, 0);
    throttle.recordFailure(u"b"_s, 0);
    QVERIFY(throttle.bannedFor(u"a"_s, 0) > 0);
    QCOMPARE(throttle.bannedFor(u"b"_s, 0), 0);
    QCOMPARE(throttle.bannedFor(u"c"_s, 0), 0);
}

void TstRateLimiter::pruneThrottle()
{
    AuthFailureThrottle throttle(2, 1000, 5000);
    throttle.recordFailure(u"banned"_s, 0);
    throttle.recordFailure(u"banned"_s, 0);
    throttle.recordFailure(u"once"_s, 0);
    throttle.prune(2000); // "once": window over, dropped; "banned": still banned, kept
    QCOMPARE(throttle.bannedFor(u"banned"_s, 2000), 3);
    throttle.recordFailure(u"once"_s, 2000);
    QCOMPARE(throttle.bannedFor(u"once"_s, 2000), 0);
    throttle.prune(10'000);
    QCOMPARE(throttle.bannedFor(u"banned"_s, 10'000), 0);
}

QTEST_APPLESS_MAIN(TstRateLimiter)

#include "tst_ratelimiter.moc"
