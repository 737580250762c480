// The pushes-per-minute chart: its bucket logic with an injected clock, the store's
// per-minute history read (SQLite; again on PostgreSQL as tst_pushratechart_pg), its
// painting, and the chart in the window fed by pushes over HTTP to a real server.
#include "pgsupport.h"

#include "gui/mainwindow.h"
#include "gui/pushratechart.h"

#include "core/mergeengine.h"
#include "store/store.h"

#include <QImage>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

constexpr Instant Second = 1'000'000;
constexpr Instant Minute = 60 * Second;
// 2026-01-01T00:00:00Z, a minute boundary.
constexpr Instant Midnight = 1767225600 * Second;

// Pushes into the store the way CoordinatorApi does: plan, record, apply, state; one
// transaction for the lot.
bool recordPushes(Store &store, MergeEngine &engine, const QList<Instant> &receivedTimes,
                  const QString &agent = u"agent"_s)
{
    if (!store.beginWrite())
        return false;
    quint64 sequence = engine.sequence();
    for (const Instant received : receivedTimes) {
        Summary s;
        s.agentId = agent;
        s.timestamp = received; // every push newer than the last
        s.topicCounts = {{u"episodic"_s, 1}};
        const MergeEngine::Plan plan = engine.plan(s);
        const quint64 next = plan.changesMerge() ? sequence + 1 : sequence;
        if (!store.recordPush(s, received, u"127.0.0.1"_s, plan.next, next)) {
            store.rollback();
            return false;
        }
        engine.apply(s.agentId, plan.next, received, next);
        sequence = next;
    }
    if (!store.writeState(sequence, receivedTimes.size()) || !store.commit()) {
        store.rollback();
        return false;
    }
    engine.setSequence(sequence);
    return true;
}

QList<Instant> times(Instant from, int count, Instant step)
{
    QList<Instant> out;
    for (int i = 0; i < count; ++i)
        out.append(from + i * step);
    return out;
}

QList<QPair<Instant, qint64>> pairs(const Store::PushMinutes &minutes)
{
    QList<QPair<Instant, qint64>> out;
    for (const Store::MinuteCount &m : minutes.minutes)
        out.append({m.minute, m.pushes});
    return out;
}

int post(quint16 port, const QByteArray &body)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return 0;
    socket.write("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QByteArray answer;
    while (socket.state() == QAbstractSocket::ConnectedState && socket.waitForReadyRead(5000))
        answer += socket.readAll();
    answer += socket.readAll();
    return answer.startsWith("HTTP/1.1 ") ? answer.mid(9, 3).toInt() : 0;
}

QByteArray pushBody(int n)
{
    return R"({"summary":{"agent_id":"agent-)" + QByteArray::number(n) +
           R"(","timestamp":"2025-01-01T10:00:)" + QByteArray::number(10 + n) +
           R"(+00:00","topic_counts":{"episodic":1},"fact_hashes":["python"]}})";
}

} // namespace

class TstPushRateChart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void deltasLandInTheCurrentMinute();
    void idleMinutesAreZero();
    void rolloverDropsMinutesOlderThanAnHour();
    void resetGivesNoNegativeBars();
    void anotherDatabaseOnlySetsTheBaseline();
    void seedFillsTheWindow();
    void niceCeiling_data();
    void niceCeiling();

    void storeCountsPerMinuteSinceTheCutoff();
    void storeWalkIsBounded();

    void paintsTheCurrentBar();
    void windowChartShowsPushes();

private:
    StoreUrl storeUrl(const QString &name);
    std::unique_ptr<Store> openStore(const StoreUrl &url);

    std::unique_ptr<QTemporaryDir> m_dir;
    QList<StoreUrl> m_pgDatabases;
};

void TstPushRateChart::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    if (test::postgresBackend())
        AGMEM_REQUIRE_POSTGRES();
}

void TstPushRateChart::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstPushRateChart::cleanup()
{
    for (const StoreUrl &url : std::exchange(m_pgDatabases, {}))
        test::dropDatabase(url);
    m_dir.reset();
}

StoreUrl TstPushRateChart::storeUrl(const QString &name)
{
    if (test::postgresBackend()) {
        QString error;
        const std::optional<StoreUrl> url = test::createDatabase(&error);
        if (!url)
            qWarning().noquote() << error;
        m_pgDatabases.append(url.value_or(StoreUrl{}));
        return url.value_or(StoreUrl{});
    }
    StoreUrl url;
    url.kind = StoreUrl::Kind::SqliteFile;
    url.path = m_dir->filePath(name);
    return url;
}

std::unique_ptr<Store> TstPushRateChart::openStore(const StoreUrl &url)
{
    QString error;
    std::unique_ptr<Store> store = Store::open(url, {}, &error);
    if (!store)
        qWarning().noquote() << "Store::open failed:" << error;
    return store;
}

// ------------------------------------------------------------------- bucket logic

void TstPushRateChart::deltasLandInTheCurrentMinute()
{
    Instant now = Midnight + 10 * Second;
    PushRateSeries series([&] { return now; });
    QCOMPARE(series.minuteStart(PushRateSeries::Minutes - 1), Midnight);
    QCOMPARE(series.windowStart(), Midnight - 59 * Minute);

    series.sample(100); // the baseline: pushes from before are not this minute's
    QCOMPARE(series.total(), 0);
    series.sample(103);
    QCOMPARE(series.current(), 3);
    now += 45 * Second; // still the same minute
    series.sample(105);
    QCOMPARE(series.current(), 5);

    now += 10 * Second; // 00:01:05
    series.sample(108);
    QCOMPARE(series.current(), 3);
    QCOMPARE(series.count(PushRateSeries::Minutes - 2), 5);
    QCOMPARE(series.minuteStart(PushRateSeries::Minutes - 1), Midnight + Minute);
    QCOMPARE(series.total(), 8);
    QCOMPARE(series.peak(), 5);
    series.sample(108); // nothing new
    QCOMPARE(series.total(), 8);
}

void TstPushRateChart::idleMinutesAreZero()
{
    Instant now = Midnight;
    PushRateSeries series([&] { return now; });
    series.sample(0);
    series.sample(4);
    now += 3 * Minute + 30 * Second;
    QVERIFY(series.advance());
    QVERIFY(!series.advance()); // same minute: nothing moves
    for (int slot = PushRateSeries::Minutes - 3; slot < PushRateSeries::Minutes; ++slot)
        QCOMPARE(series.count(slot), 0);
    QCOMPARE(series.count(PushRateSeries::Minutes - 4), 4);
    // The pushes of the idle minutes all arrive in the current one (one sample).
    series.sample(10);
    QCOMPARE(series.current(), 6);
    QCOMPARE(series.count(PushRateSeries::Minutes - 2), 0);
}

void TstPushRateChart::rolloverDropsMinutesOlderThanAnHour()
{
    Instant now = Midnight;
    PushRateSeries series([&] { return now; });
    series.sample(0);
    series.sample(7); // minute 0
    now += Minute;
    series.sample(9); // minute 1
    now += 58 * Minute;
    series.advance(); // minute 59: minute 0 is the oldest still shown
    QCOMPARE(series.count(0), 7);
    QCOMPARE(series.count(1), 2);
    QCOMPARE(series.total(), 9);
    now += Minute; // minute 60: minute 0 is gone
    series.advance();
    QCOMPARE(series.count(0), 2);
    QCOMPARE(series.total(), 2);
    now += 2 * PushRateSeries::Minutes * Minute; // hours later: all gone
    series.sample(20);
    QCOMPARE(series.total(), 11); // only this minute's 11
    QCOMPARE(series.current(), 11);
    QCOMPARE(series.minuteStart(PushRateSeries::Minutes - 1), Midnight + 180 * Minute);
}

void TstPushRateChart::resetGivesNoNegativeBars()
{
    Instant now = Midnight;
    PushRateSeries series([&] { return now; });
    series.sample(500);
    series.sample(510);
    series.sample(0); // DELETE /reset: the total starts again
    QCOMPARE(series.current(), 10);
    series.sample(3);
    QCOMPARE(series.current(), 13);
    now += Minute;
    series.sample(1); // reset again, in a new minute
    QCOMPARE(series.current(), 0);
    for (int slot = 0; slot < PushRateSeries::Minutes; ++slot)
        QVERIFY2(series.count(slot) >= 0, qPrintable(QString::number(slot)));
    series.sample(2);
    QCOMPARE(series.current(), 1);
}

void TstPushRateChart::anotherDatabaseOnlySetsTheBaseline()
{
    Instant now = Midnight;
    PushRateSeries series([&] { return now; });
    series.sample(5, u"db-a"_s);
    series.sample(6, u"db-a"_s);
    series.sample(900, u"db-b"_s); // not 894 pushes: another database
    QCOMPARE(series.current(), 1);
    series.sample(902, u"db-b"_s);
    QCOMPARE(series.current(), 3);
}

void TstPushRateChart::seedFillsTheWindow()
{
    Instant now = Midnight + 30 * Second;
    PushRateSeries series([&] { return now; });
    series.seed({{Midnight, 4},
                 {Midnight - 10 * Minute, 6},
                 {Midnight - 59 * Minute, 1},
                 {Midnight - 60 * Minute, 100}, // before the window
                 {Midnight + Minute, 100}});    // after it (clocks of other instances)
    QCOMPARE(series.current(), 4);
    QCOMPARE(series.count(PushRateSeries::Minutes - 11), 6);
    QCOMPARE(series.count(0), 1);
    QCOMPARE(series.total(), 11);
    QVERIFY(series.known(0));
    // Samples add to the seeded minute.
    series.sample(50);
    series.sample(52);
    QCOMPARE(series.current(), 6);

    // A history too long to read: the minutes before the first complete one are unknown
    // until they leave the window.
    series.seed({{Midnight - 2 * Minute, 9}}, Midnight - 2 * Minute);
    QVERIFY(!series.known(PushRateSeries::Minutes - 4));
    QVERIFY(series.known(PushRateSeries::Minutes - 3));
    QCOMPARE(series.count(PushRateSeries::Minutes - 3), 9);
    now += 56 * Minute;
    series.advance();
    QVERIFY(!series.known(0));
    now += Minute;
    series.advance();
    QVERIFY(series.known(0));
}

void TstPushRateChart::niceCeiling_data()
{
    QTest::addColumn<qint64>("peak");
    QTest::addColumn<qint64>("ceiling");
    QTest::newRow("0") << qint64(0) << qint64(1);
    QTest::newRow("1") << qint64(1) << qint64(1);
    QTest::newRow("2") << qint64(2) << qint64(2);
    QTest::newRow("3") << qint64(3) << qint64(5);
    QTest::newRow("7") << qint64(7) << qint64(10);
    QTest::newRow("10") << qint64(10) << qint64(10);
    QTest::newRow("11") << qint64(11) << qint64(20);
    QTest::newRow("120") << qint64(120) << qint64(200);
    QTest::newRow("501") << qint64(501) << qint64(1000);
    QTest::newRow("540000") << qint64(540000) << qint64(1000000);
}

void TstPushRateChart::niceCeiling()
{
    QFETCH(qint64, peak);
    QFETCH(qint64, ceiling);
    QCOMPARE(PushRateChart::niceCeiling(peak), ceiling);
}

// ------------------------------------------------------------------------ the store

void TstPushRateChart::storeCountsPerMinuteSinceTheCutoff()
{
    const StoreUrl url = storeUrl(u"history.db"_s);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    MergeEngine engine;
    // An hour and a half ago (left out), then three minutes with pushes and gaps.
    QList<Instant> received = times(Midnight - 90 * Minute, 2, Second);
    received += times(Midnight + 10 * Second, 3, 15 * Second); // minute 0: 3
    received.append(Midnight + Minute + 59 * Second);          // minute 1: 1
    received += times(Midnight + 5 * Minute, 4, 10 * Second);  // minute 5: 4
    QVERIFY(recordPushes(*store, engine, received));

    const QList<QPair<Instant, qint64>> expected{
        {Midnight, 3}, {Midnight + Minute, 1}, {Midnight + 5 * Minute, 4}};
    // The cutoff counts from the start of its minute.
    std::optional<Store::PushMinutes> minutes =
        store->pushesPerMinute(Midnight + 30 * Second, 1000);
    QVERIFY2(minutes, qPrintable(store->lastError()));
    QCOMPARE(pairs(*minutes), expected);
    QVERIFY(minutes->complete);

    minutes = store->pushesPerMinute(Midnight + Minute, 1000);
    QVERIFY(minutes);
    QCOMPARE(pairs(*minutes), expected.mid(1));

    minutes = store->pushesPerMinute(Midnight - 95 * Minute, 1000);
    QVERIFY(minutes);
    QCOMPARE(minutes->minutes.size(), 4);
    QCOMPARE(minutes->minutes.first().minute, Midnight - 90 * Minute);
    QCOMPARE(minutes->minutes.first().pushes, 2);

    // Read-only, as the window reads it; and an empty history.
    QVERIFY(store->pushesPerMinute(Midnight + 6 * Minute, 1000)->minutes.isEmpty());
    const StoreUrl emptyUrl = storeUrl(u"empty.db"_s);
    const std::unique_ptr<Store> empty = openStore(emptyUrl);
    QVERIFY(empty);
    minutes = empty->pushesPerMinute(Midnight, 1000);
    QVERIFY(minutes);
    QVERIFY(minutes->minutes.isEmpty());
    QVERIFY(minutes->complete);

    // The chart seeds from it: the last hour only, then counts new pushes once.
    Instant now = Midnight + 5 * Minute + 50 * Second;
    PushRateChart chart;
    chart.setClock([&] { return now; });
    // As the window's reader reads it: the history, then the state, in one snapshot.
    QVERIFY(chart.seedSince() > 0);
    const auto seed = store->pushesPerMinute(chart.seedSince(), PushRateChart::MaxSeedRows);
    QVERIFY(seed);
    const std::optional<StoreState> state = store->readState();
    QVERIFY(state);
    chart.feed(*state, seed);
    QCOMPARE(chart.seedSince(), 0);
    QCOMPARE(chart.series().current(), 4);
    QCOMPARE(chart.series().count(PushRateSeries::Minutes - 6), 3);
    QCOMPARE(chart.series().total(), 8);
    QVERIFY(recordPushes(*store, engine, {Midnight + 5 * Minute + 55 * Second}));
    chart.feed(*store->readState());
    QCOMPARE(chart.series().current(), 5);
    QCOMPARE(chart.series().total(), 9);
}

// Bounded: pages of the newest rows, stopping at the cutoff or after maxRows rows (the
// oldest minute read then left out, not shown short).
void TstPushRateChart::storeWalkIsBounded()
{
    const StoreUrl url = storeUrl(u"big.db"_s);
    const std::unique_ptr<Store> store = openStore(url);
    QVERIFY(store);
    MergeEngine engine;
    // 300 pushes over two minutes, read 200 at a time: more than one page.
    constexpr int Page = 200;
    QVERIFY(recordPushes(*store, engine, times(Midnight, 150, 300 * 1000)));
    QVERIFY(recordPushes(*store, engine, times(Midnight + Minute, 150, 300 * 1000)));
    using Counts = QList<QPair<Instant, qint64>>;

    std::optional<Store::PushMinutes> minutes = store->pushesPerMinute(Midnight, 1000, Page);
    QVERIFY2(minutes, qPrintable(store->lastError()));
    QCOMPARE(pairs(*minutes), (Counts{{Midnight, 150}, {Midnight + Minute, 150}}));
    QVERIFY(minutes->complete);
    // The default page holds them all.
    minutes = store->pushesPerMinute(Midnight, 1000);
    QVERIFY(minutes);
    QCOMPARE(pairs(*minutes), (Counts{{Midnight, 150}, {Midnight + Minute, 150}}));

    // Stopped after the first page: the minute it reached into is left out, not shown short.
    minutes = store->pushesPerMinute(Midnight, 1, Page);
    QVERIFY(minutes);
    QCOMPARE(pairs(*minutes), (Counts{{Midnight + Minute, 150}}));
    QVERIFY(!minutes->complete);

    // The first page reaches back before the cutoff: the walk ends there.
    minutes = store->pushesPerMinute(Midnight + Minute, 1000, Page);
    QVERIFY(minutes);
    QCOMPARE(pairs(*minutes), (Counts{{Midnight + Minute, 150}}));
    QVERIFY(minutes->complete);
}

// ----------------------------------------------------------------------- the widget

void TstPushRateChart::paintsTheCurrentBar()
{
    if (test::postgresBackend())
        QSKIP("SQLite only: no store involved");
    Instant now = Midnight + 30 * Second;
    PushRateChart chart;
    chart.setClock([&] { return now; });
    chart.resize(600, chart.sizeHint().height());
    QVERIFY(chart.sizeHint().height() >= 3 * chart.fontMetrics().height());
    StoreState state;
    chart.feed(state);
    state.totalPushes = 12;
    chart.feed(state);
    now += Minute;
    state.totalPushes = 17;
    chart.feed(state);
    QCOMPARE(chart.series().current(), 5);
    QCOMPARE(chart.series().count(PushRateSeries::Minutes - 2), 12);
    QVERIFY2(chart.caption().contains(u"This minute: 5"), qPrintable(chart.caption()));
    QVERIFY2(chart.caption().contains(u"Last hour: 17"), qPrintable(chart.caption()));
    QVERIFY2(chart.accessibleName().contains(u"total 17, peak 12"),
             qPrintable(chart.accessibleName()));
    QVERIFY2(chart.toolTipFor(PushRateSeries::Minutes - 2).contains(u"Pushes: 12"),
             qPrintable(chart.toolTipFor(PushRateSeries::Minutes - 2)));
    QVERIFY2(chart.toolTipFor(0).contains(u"Pushes: 0"), qPrintable(chart.toolTipFor(0)));
    QVERIFY2(chart.toolTipFor(PushRateSeries::Minutes - 1).contains(u"Pushes so far: 5"),
             qPrintable(chart.toolTipFor(PushRateSeries::Minutes - 1)));

    // The current minute's bar in the highlight color, an idle minute's column without it.
    const QImage image = chart.grab().toImage();
    const QColor highlight = chart.palette().color(QPalette::Highlight);
    const auto highlighted = [&](int slot) {
        int found = 0;
        int column = -1;
        for (int x = 0; x < image.width() && column < 0; ++x) {
            if (chart.slotAt(QPoint(x, image.height() / 2)) == slot &&
                chart.slotAt(QPoint(x + 2, image.height() / 2)) == slot)
                column = x + 1;
        }
        for (int y = 0; column >= 0 && y < image.height(); ++y)
            found += image.pixelColor(column, y).rgb() == highlight.rgb() ? 1 : 0;
        return found;
    };
    QVERIFY(highlighted(PushRateSeries::Minutes - 1) > 0);
    QCOMPARE(highlighted(10), 0);
    QVERIFY(chart.slotAt(QPoint(0, 0)) < 0);
}

void TstPushRateChart::windowChartShowsPushes()
{
    if (test::postgresBackend())
        QSKIP("SQLite only: the window test runs once");
    ServerConfig config;
    config.host = QHostAddress::LocalHost;
    config.port = 0;
    config.store = storeUrl(u"coordinator.db"_s);
    config.access.rateLimit = 0;
    config.accessLog = false;
    // A clock that stays in one minute: the pushes land in the current one.
    const Instant fixed = nowInstant();
    {
        MainWindow window(config);
        auto *chart = window.findChild<PushRateChart *>(u"pushRateChart"_s);
        QVERIFY(chart);
        chart->setClock([&] { return fixed; });
        window.show();
        window.startServer();
        QTRY_COMPARE(window.controller().state(), ServerController::State::Listening);
        QTRY_VERIFY(chart->seeded()); // the first refresh after the server created the database
        QCOMPARE(chart->series().total(), 0);
        QCOMPARE(post(window.controller().port(), pushBody(1)), 200);
        QCOMPARE(post(window.controller().port(), pushBody(2)), 200);
        QTRY_COMPARE(chart->series().current(), 2);
        QCOMPARE(chart->series().total(), 2);
        QTRY_VERIFY2(chart->accessibleName().contains(u"total 2"),
                     qPrintable(chart->accessibleName()));
        QVERIFY(chart->isVisible());
        QVERIFY(chart->height() >= chart->sizeHint().height());
    }
    // A new window on the same database seeds the last hour from the history, and counts a
    // new push once.
    MainWindow window(config);
    auto *chart = window.findChild<PushRateChart *>(u"pushRateChart"_s);
    QVERIFY(chart);
    chart->setClock([] { return nowInstant(); });
    window.refreshNow();
    QTRY_VERIFY(chart->seeded()); // from the reader's thread, after the window showed
    QCOMPARE(chart->series().total(), 2);
    window.startServer();
    QTRY_COMPARE(window.controller().state(), ServerController::State::Listening);
    QCOMPARE(post(window.controller().port(), pushBody(3)), 200);
    QTRY_COMPARE(chart->series().total(), 3);
}

QTEST_MAIN(TstPushRateChart)
#include "tst_pushratechart.moc"
