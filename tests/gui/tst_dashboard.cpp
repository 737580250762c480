// The dashboard window against a real server on port 0: start/stop, live views fed by
// pushes over real sockets, filters, API keys, sharing with the team.
#include "gui/keyspage.h"
#include "gui/livemodels.h"
#include "gui/mainwindow.h"
#include "gui/storereader.h"

#include "core/apikey.h"

#include <QCheckBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSqlDatabase>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableView>
#include <QTableWidget>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

struct Reply
{
    int status = 0;
    QByteArray body;
};

// One request on its own connection (the server runs in its own thread, so blocking
// here is fine).
Reply request(quint16 port, const QByteArray &method, const QByteArray &path,
              const QByteArray &body = {})
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(5000))
        return {};
    QByteArray head = method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!body.isEmpty())
        head +=
            "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
            "\r\n";
    socket.write(head + "\r\n" + body);
    QByteArray answer;
    while (socket.state() == QAbstractSocket::ConnectedState && socket.waitForReadyRead(5000))
        answer += socket.readAll();
    answer += socket.readAll();
    Reply reply;
    const qsizetype space = answer.indexOf(' ');
    reply.status = space > 0 ? answer.mid(space + 1, 3).toInt() : 0;
    const qsizetype split = answer.indexOf("\r\n\r\n");
    reply.body = split >= 0 ? answer.mid(split + 4) : QByteArray();
    return reply;
}

QByteArray summary(const QByteArray &agent, const QByteArray &timestamp, const QByteArray &topics,
                   const QByteArray &facts)
{
    return "{\"summary\":{\"agent_id\":\"" + agent + "\",\"timestamp\":\"" + timestamp +
           "\",\"topic_counts\":{" + topics + "},\"fact_hashes\":[" + facts + "]}}";
}

QString cell(QAbstractItemModel *model, int row, int column)
{
    return model->index(row, column).data().toString();
}

// Writes pushes straight into a store, as the server's writer does.
struct StoreWriter
{
    Store &store;
    MergeEngine engine;
    Instant clock = 1000;

    bool push(const QString &agent, QStringList facts, Instant timestamp = 0)
    {
        Summary s;
        s.agentId = agent;
        s.timestamp = timestamp ? timestamp : ++clock;
        s.factHashes = std::move(facts);
        const MergeEngine::Plan plan = engine.plan(s);
        const quint64 next = plan.changesMerge() ? engine.sequence() + 1 : engine.sequence();
        if (!store.beginWrite() ||
            !store.recordPush(s, s.timestamp, u"127.0.0.1"_s, plan.next, next) ||
            !store.writeState(next, 1) || !store.commit())
            return false;
        engine.apply(s.agentId, plan.next, s.timestamp, next);
        engine.setSequence(next);
        return true;
    }
};

// One refresh of the window's reader, run here on the test's thread.
LiveDeltaPtr readDelta(StoreReader &reader)
{
    LiveDeltaPtr delta;
    QString failure;
    QObject context;
    QObject::connect(&reader, &StoreReader::refreshed, &context,
                     [&](const LiveDeltaPtr &d) { delta = d; });
    QObject::connect(&reader, &StoreReader::refreshFailed, &context,
                     [&](const QString &error) { failure = error; });
    reader.refresh({});
    if (!delta)
        qWarning("reader: %s", qPrintable(failure));
    return delta;
}

} // namespace

class TstDashboard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void startAndStop();
    void portInUseIsShown();
    void pushAppearsInEveryView();
    void filters();
    void factsModelUpdatesIncrementally();
    void factsModelLargeChange();
    void agentsModelMarksOnlyChangedRows();
    void activityPauseAndClear();
    void createAndRevokeKey();
    void shareWithTheTeam();
    void bannerWhenExposedWithoutKey();
    void loadingThenFilled();
    void databaseUnreachableBanner();
    void hangingDatabaseKeepsWindowResponsive();
    void bannerAfterUnansweredPingDeadline();
    void readerStartsFromServerSnapshot();
    void windowSeededByServer();

private:
    ServerConfig config() const;
    std::unique_ptr<MainWindow> startedWindow();
    template <typename T>
    T *child(const char *name) const
    {
        T *widget = m_window->findChild<T *>(QLatin1String(name));
        Q_ASSERT(widget);
        return widget;
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TstDashboard::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TstDashboard::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstDashboard::cleanup()
{
    m_window.reset();
    // No store was opened or queried on the GUI thread while a window was open.
    QCOMPARE(Store::forbiddenThreadUses(), 0);
    m_dir.reset();
}

ServerConfig TstDashboard::config() const
{
    ServerConfig c;
    c.host = QHostAddress::LocalHost;
    c.port = 0;
    QString error;
    c.store = *StoreUrl::parse(m_dir->filePath(u"coordinator.db"_s), &error);
    c.access.rateLimit = 0;
    c.accessLog = false;
    return c;
}

std::unique_ptr<MainWindow> TstDashboard::startedWindow()
{
    auto window = std::make_unique<MainWindow>(config());
    window->startServer();
    if (!QTest::qWaitFor(
            [&] { return window->controller().state() == ServerController::State::Listening; },
            10000))
        return nullptr;
    return window;
}

void TstDashboard::startAndStop()
{
    m_window = std::make_unique<MainWindow>(config());
    m_window->show();
    auto *start = child<QPushButton>("startButton");
    auto *stop = child<QPushButton>("stopButton");
    QVERIFY(start->isEnabled());
    QVERIFY(!stop->isEnabled());
    QVERIFY(child<QLabel>("stateLabel")->text().contains(u"Stopped"));

    start->click();
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Listening);
    const quint16 port = m_window->controller().port();
    QVERIFY(port != 0);
    QVERIFY(child<QLabel>("stateLabel")->text().contains(u"Listening"));
    QVERIFY(child<QLabel>("urlLabel")->text().contains(u"127.0.0.1:"_s + QString::number(port)));
    QCOMPARE(child<QSpinBox>("portSpin")->value(), int(port));
    QVERIFY(!start->isEnabled());
    QVERIFY(stop->isEnabled());
    QCOMPARE(request(port, "GET", "/health").status, 200);

    // Stop really stops: an open connection is closed and nobody listens any more.
    QTcpSocket idle;
    idle.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(idle.waitForConnected(5000));
    stop->click();
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Stopped);
    QVERIFY(idle.state() == QAbstractSocket::UnconnectedState || idle.waitForDisconnected(5000));
    QVERIFY(child<QLabel>("stateLabel")->text().contains(u"Stopped"));
    QVERIFY(start->isEnabled());
    QTcpSocket refused;
    refused.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(!refused.waitForConnected(2000));

    // And starts again on the same port.
    start->click();
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Listening);
    QCOMPARE(m_window->controller().port(), port);
}

void TstDashboard::portInUseIsShown()
{
    QTcpServer occupant;
    QVERIFY(occupant.listen(QHostAddress::LocalHost, 0));
    m_window = std::make_unique<MainWindow>(config());
    m_window->show();
    child<QSpinBox>("portSpin")->setValue(occupant.serverPort());
    child<QPushButton>("startButton")->click();
    auto *error = child<QLabel>("errorLabel");
    QTRY_VERIFY(error->isVisible());
    QVERIFY2(error->text().contains(u"Could not start"), qPrintable(error->text()));
    QVERIFY2(error->text().contains(QString::number(occupant.serverPort())),
             qPrintable(error->text()));
    QCOMPARE(m_window->controller().state(), ServerController::State::Stopped);
    QVERIFY(child<QLabel>("stateLabel")->text().contains(u"Error"));
    QVERIFY(child<QPushButton>("startButton")->isEnabled());

    // A bad host is reported in the window too, without starting anything.
    child<QLineEdit>("hostEdit")->setText(u"not-an-address"_s);
    child<QPushButton>("startButton")->click();
    QVERIFY(error->text().contains(u"not-an-address"));
    QCOMPARE(m_window->controller().state(), ServerController::State::Stopped);
}

void TstDashboard::pushAppearsInEveryView()
{
    m_window = startedWindow();
    QVERIFY(m_window);
    m_window->show();
    const quint16 port = m_window->controller().port();
    QCOMPARE(request(port, "POST", "/push",
                     summary("agent-7", "2025-01-01T10:00:00+00:00",
                             "\"episodic\":2,\"semantic\":3", "\"python\",\"databases\""))
                 .status,
             200);
    QCOMPARE(
        request(port, "POST", "/push",
                summary("agent-8", "2025-01-01T11:00:00+00:00", "\"semantic\":4", "\"python\""))
            .status,
        200);
    QCOMPARE(request(port, "POST", "/push", "{\"summary\":{\"agent_id\":\"bad\"}}").status, 422);

    QAbstractItemModel *agents = child<QTableView>("agentsView")->model();
    QTRY_COMPARE(agents->rowCount(), 2);
    QAbstractItemModel *topics = child<QTableView>("topicsView")->model();
    QTRY_COMPARE(topics->rowCount(), 2);
    // Sorted by merged count, largest first.
    QCOMPARE(cell(topics, 0, TopicsModel::Topic), u"semantic"_s);
    QCOMPARE(topics->index(0, TopicsModel::Count).data(SortRole).toLongLong(), 7);
    QCOMPARE(topics->index(0, TopicsModel::Agents).data(SortRole).toInt(), 2);
    QAbstractItemModel *facts = child<QTableView>("factsView")->model();
    QTRY_COMPARE(facts->rowCount(), 2);
    QCOMPARE(cell(facts, 0, FactsModel::Fact), u"databases"_s);
    QCOMPARE(facts->index(0, FactsModel::Holders).data(SortRole).toLongLong(), 1);
    QCOMPARE(cell(facts, 1, FactsModel::Fact), u"python"_s);
    QCOMPARE(facts->index(1, FactsModel::Holders).data(SortRole).toLongLong(), 2);

    // Agents: every column, found by id (the view sorts by last seen).
    QModelIndexList found =
        agents->match(agents->index(0, 0), Qt::DisplayRole, u"agent-7"_s, 1, Qt::MatchExactly);
    QCOMPARE(found.size(), 1);
    const int row = found.first().row();
    QCOMPARE(agents->index(row, AgentsModel::Pushes).data(SortRole).toLongLong(), 1);
    QCOMPARE(agents->index(row, AgentsModel::Topics).data(SortRole).toLongLong(), 2);
    QCOMPARE(agents->index(row, AgentsModel::Facts).data(SortRole).toLongLong(), 2);
    QVERIFY(!cell(agents, row, AgentsModel::FirstSeen).isEmpty());

    // Activity: the accepted pushes and the rejected one, with status and reason.
    QAbstractItemModel *activity = child<QTableView>("activityView")->model();
    QTRY_VERIFY(activity->rowCount() >= 3);
    QStringList seen;
    for (int r = 0; r < activity->rowCount(); ++r) {
        seen << cell(activity, r, ActivityModel::Agent) + u' ' +
                    cell(activity, r, ActivityModel::Status) + u' ' +
                    cell(activity, r, ActivityModel::Request);
    }
    QVERIFY2(seen.contains(u"agent-7 200 POST /push"_s), qPrintable(seen.join(u" | ")));
    QVERIFY2(seen.contains(u"agent-8 200 POST /push"_s), qPrintable(seen.join(u" | ")));
    QVERIFY2(seen.filter(u" 422 POST /push"_s).size() == 1, qPrintable(seen.join(u" | ")));
    QCOMPARE(cell(activity, 0, ActivityModel::Source), u"127.0.0.1"_s);

    // Selecting an agent shows its current summary and its history.
    child<QTableView>("agentsView")->setCurrentIndex(agents->index(row, 0));
    QVERIFY(child<QLabel>("agentHeading")->text().contains(u"agent-7"));
    QCOMPARE(child<QTableWidget>("agentTopicsTable")->rowCount(), 2);
    QCOMPARE(child<QTableWidget>("agentHistoryTable")->rowCount(), 1);

    // A newer push of that agent updates the views in place.
    QCOMPARE(request(port, "POST", "/push",
                     summary("agent-7", "2025-01-02T10:00:00+00:00", "\"episodic\":5", "\"rust\""))
                 .status,
             200);
    const auto pushesOf = [agents](const QString &id) {
        const QModelIndexList at =
            agents->match(agents->index(0, 0), Qt::DisplayRole, id, 1, Qt::MatchExactly);
        return at.isEmpty() ? -1
                            : agents->index(at.first().row(), AgentsModel::Pushes)
                                  .data(SortRole)
                                  .toLongLong();
    };
    QTRY_COMPARE(pushesOf(u"agent-7"_s), 2);
    // The view sorts by last seen, newest first.
    QCOMPARE(cell(agents, 0, AgentsModel::Agent), u"agent-7"_s);
    QTRY_COMPARE(child<QTableWidget>("agentHistoryTable")->rowCount(), 2);
    QTRY_COMPARE(facts->rowCount(), 2); // python (agent-8), rust (agent-7)
    QCOMPARE(cell(facts, 0, FactsModel::Fact), u"python"_s);
    QCOMPARE(cell(facts, 1, FactsModel::Fact), u"rust"_s);
    const auto *totals = m_window->statusBar()->findChild<QLabel *>(u"summaryLabel"_s);
    QVERIFY(totals);
    QVERIFY2(totals->text().contains(u"Pushes in total: 3"), qPrintable(totals->text()));
}

void TstDashboard::filters()
{
    m_window = startedWindow();
    QVERIFY(m_window);
    const quint16 port = m_window->controller().port();
    for (const QByteArray agent : {"alpha-1", "alpha-2", "beta-1"}) {
        QCOMPARE(request(port, "POST", "/push",
                         summary(agent, "2025-01-01T10:00:00Z", "\"t-" + agent + "\":1",
                                 "\"fact-" + agent + "\""))
                     .status,
                 200);
    }
    QAbstractItemModel *agents = child<QTableView>("agentsView")->model();
    QTRY_COMPARE(agents->rowCount(), 3);
    child<QLineEdit>("agentFilter")->setText(u"ALPHA"_s);
    QCOMPARE(agents->rowCount(), 2);
    child<QLineEdit>("agentFilter")->setText(u"beta"_s);
    QCOMPARE(agents->rowCount(), 1);
    QCOMPARE(cell(agents, 0, 0), u"beta-1"_s);
    child<QLineEdit>("agentFilter")->clear();
    QCOMPARE(agents->rowCount(), 3);

    QAbstractItemModel *topics = child<QTableView>("topicsView")->model();
    QTRY_COMPARE(topics->rowCount(), 3);
    child<QLineEdit>("topicFilter")->setText(u"t-alpha"_s);
    QCOMPARE(topics->rowCount(), 2);

    QAbstractItemModel *facts = child<QTableView>("factsView")->model();
    QTRY_COMPARE(facts->rowCount(), 3);
    child<QLineEdit>("factFilter")->setText(u"Beta"_s);
    QCOMPARE(facts->rowCount(), 1);
    QCOMPARE(cell(facts, 0, 0), u"fact-beta-1"_s);
    QVERIFY(child<QLabel>("factsCountLabel")->text().contains(u"1 of 3"));
    // A new matching fact arrives while filtered; a non-matching one does not show.
    QCOMPARE(request(port, "POST", "/push",
                     summary("gamma", "2025-01-01T10:00:00Z", "", "\"beta-2\",\"other\""))
                 .status,
             200);
    QTRY_COMPARE(facts->rowCount(), 2);
    QCOMPARE(cell(facts, 1, 0), u"fact-beta-1"_s);
    QCOMPARE(cell(facts, 0, 0), u"beta-2"_s);
    child<QLineEdit>("factFilter")->clear();
    QCOMPARE(facts->rowCount(), 5);
}

// The facts model inserts and removes single rows for small changes (no reset), so views
// keep their place; counts follow the store, as the reader reports them.
void TstDashboard::factsModelUpdatesIncrementally()
{
    QString error;
    const std::unique_ptr<Store> store = Store::open(config().store, {}, &error);
    QVERIFY2(store, qPrintable(error));
    StoreWriter writer{*store, MergeEngine()};
    StoreReader reader(config().store);
    FactsModel model;
    const auto push = [&](const QString &agent, const QStringList &facts) {
        if (!writer.push(agent, facts))
            return false;
        const LiveDeltaPtr delta = readDelta(reader);
        if (!delta)
            return false;
        model.apply(*delta);
        return true;
    };
    QVERIFY(push(u"a"_s, {u"f1"_s, u"f3"_s}));
    QCOMPARE(model.rowCount(), 2);
    int resets = 0;
    int inserts = 0;
    int removes = 0;
    connect(&model, &QAbstractItemModel::modelReset, this, [&] { ++resets; });
    connect(&model, &QAbstractItemModel::rowsInserted, this, [&] { ++inserts; });
    connect(&model, &QAbstractItemModel::rowsRemoved, this, [&] { ++removes; });
    QVERIFY(push(u"b"_s, {u"f2"_s, u"f3"_s}));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.keyAt(1), u"f2"_s);
    QCOMPARE(model.index(2, FactsModel::Holders).data(SortRole).toLongLong(), 2);
    QVERIFY(push(u"a"_s, {u"f3"_s}));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.keyAt(0), u"f2"_s);
    QCOMPARE(resets, 0);
    QCOMPARE(inserts, 1);
    QCOMPARE(removes, 1);
    // A filter shows the matching facts, and follows changes while it is set.
    model.setFilter(u"f2"_s);
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(push(u"c"_s, {u"f2x"_s, u"g"_s}));
    QCOMPARE(model.rowCount(), 2);
    model.setFilter({});
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.keyAt(3), u"g"_s);
}

// A push that changes many facts comes from the reader as the whole sorted list, swapped in
// at once: the rows are exactly the store's facts, in code-point order, with their holder
// counts, also through a filter.
void TstDashboard::factsModelLargeChange()
{
    QString error;
    const std::unique_ptr<Store> store = Store::open(config().store, {}, &error);
    QVERIFY2(store, qPrintable(error));
    StoreWriter writer{*store, MergeEngine()};
    // The large lists in a delta are handed over to one facts model: one reader each.
    StoreReader reader(config().store);
    StoreReader filteredReader(config().store);
    FactsModel model;
    FactsModel filtered;
    filtered.setFilter(u"fact-03"_s);
    const auto push = [&](const QString &agent, int from, int to) {
        QStringList facts;
        for (int i = from; i < to; ++i)
            facts.append(u"fact-%1"_s.arg(i, 5, 10, QChar(u'0')));
        if (!writer.push(agent, facts))
            return LiveDeltaPtr();
        LiveDeltaPtr delta = readDelta(reader);
        const LiveDeltaPtr other = readDelta(filteredReader);
        if (delta && other) {
            model.apply(*delta);
            filtered.apply(*other);
        }
        return delta;
    };
    QVERIFY(push(u"a"_s, 0, 3000));    // fact-00000 .. fact-02999
    QVERIFY(push(u"b"_s, 2000, 2600)); // 600 shared with a
    QCOMPARE(model.rowCount(), 3000);
    QCOMPARE(filtered.rowCount(), 0);
    // a drops 0..999 and adds 3000..4499: 2500 changes, far above the row-by-row limit.
    const LiveDeltaPtr delta = push(u"a"_s, 1000, 4500);
    QVERIFY(delta);
    QVERIFY(delta->allFacts);
    QVERIFY(delta->allHolders);
    QCOMPARE(delta->addedFacts, 1500);
    QCOMPARE(delta->removedFacts, 1000);
    QCOMPARE(model.rowCount(), 3500);
    QCOMPARE(qsizetype(model.rowCount()), qsizetype(writer.engine.factHolders().size()));
    for (int row = 0; row < model.rowCount(); ++row) {
        const QString expected = u"fact-%1"_s.arg(row + 1000, 5, 10, QChar(u'0'));
        QCOMPARE(model.keyAt(row), expected);
        const qint64 holders = (row + 1000 >= 2000 && row + 1000 < 2600) ? 2 : 1;
        QCOMPARE(model.index(row, FactsModel::Holders).data(SortRole).toLongLong(), holders);
    }
    QCOMPARE(filtered.rowCount(), 1000); // fact-03000 .. fact-03999
    QCOMPARE(filtered.keyAt(0), u"fact-03000"_s);
    QCOMPARE(model.rowAtOrAfter(u"fact-00999"_s), 0);
    QCOMPARE(model.rowAtOrAfter(u"fact-01000x"_s), 1);
    QCOMPARE(model.rowAtOrAfter(u"zzz"_s), 3499);
}

// The agents model marks only the rows whose counters changed (a sorting proxy sorts every
// marked row again), and nothing when nothing changed.
void TstDashboard::agentsModelMarksOnlyChangedRows()
{
    const StoreUrl url = config().store;
    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    QVERIFY2(store, qPrintable(error));
    StoreWriter writer{*store, MergeEngine()};
    const auto push = [&](const QString &agent, Instant timestamp) {
        return writer.push(agent, {agent}, timestamp);
    };
    for (const QString &agent : {u"a"_s, u"b"_s, u"c"_s, u"d"_s})
        QVERIFY(push(agent, 1000));
    StoreReader reader(url);
    LiveView live;
    AgentsModel model;
    const auto refresh = [&] {
        const LiveDeltaPtr delta = readDelta(reader);
        if (!delta)
            return false;
        live.apply(*delta);
        model.update(live);
        return true;
    };
    QVERIFY(refresh());
    QCOMPARE(model.rowCount(), 4);
    QList<QPair<int, int>> marked;
    int resets = 0;
    connect(&model, &QAbstractItemModel::dataChanged, this,
            [&](const QModelIndex &first, const QModelIndex &last) {
                marked.append({first.row(), last.row()});
            });
    connect(&model, &QAbstractItemModel::modelReset, this, [&] { ++resets; });

    QVERIFY(refresh());
    QCOMPARE(marked.size(), 0);
    QVERIFY(push(u"c"_s, 2000)); // a new contribution
    QVERIFY(refresh());
    QCOMPARE(marked, (QList<QPair<int, int>>{{2, 2}}));
    QCOMPARE(model.index(2, AgentsModel::Pushes).data(SortRole).toLongLong(), 2);
    marked.clear();
    QVERIFY(push(u"a"_s, 1000)); // the same summary again: only the counters change
    QVERIFY(refresh());
    QCOMPARE(marked, (QList<QPair<int, int>>{{0, 0}}));
    QCOMPARE(model.index(0, AgentsModel::Pushes).data(SortRole).toLongLong(), 2);
    QCOMPARE(resets, 0);
}

void TstDashboard::activityPauseAndClear()
{
    m_window = startedWindow();
    QVERIFY(m_window);
    const quint16 port = m_window->controller().port();
    QAbstractItemModel *activity = child<QTableView>("activityView")->model();
    QCOMPARE(request(port, "GET", "/health").status, 200);
    QTRY_COMPARE(activity->rowCount(), 1);

    child<QPushButton>("pauseButton")->click();
    QCOMPARE(request(port, "GET", "/nowhere").status, 404);
    QTRY_VERIFY(child<QLabel>("activityHint")->text().contains(u"1"));
    QCOMPARE(activity->rowCount(), 1);
    child<QPushButton>("pauseButton")->click();
    QCOMPARE(activity->rowCount(), 2);
    QCOMPARE(cell(activity, 0, ActivityModel::Status), u"404"_s);

    child<QPushButton>("clearButton")->click();
    QCOMPARE(activity->rowCount(), 0);

    // Capped: the oldest rows go.
    auto *model = qobject_cast<ActivityModel *>(activity);
    QVERIFY(model);
    model->setCapacity(3);
    QList<RequestEvent> events(5);
    for (int i = 0; i < 5; ++i)
        events[i].status = 200 + i;
    model->append(events);
    QCOMPARE(model->rowCount(), 3);
    QCOMPARE(cell(model, 0, ActivityModel::Status), u"204"_s);
}

void TstDashboard::createAndRevokeKey()
{
    m_window = startedWindow();
    QVERIFY(m_window);
    m_window->show();
    const quint16 port = m_window->controller().port();
    KeysPage *page = m_window->keysPage();
    auto *tabs = child<QTabWidget>("tabs");
    tabs->setCurrentWidget(page);

    page->findChild<QLineEdit *>(u"nameEdit"_s)->setText(u"ci runner"_s);
    page->findChild<QCheckBox *>(u"pullCheck"_s)->setChecked(false);
    page->findChild<QPushButton *>(u"createButton"_s)->click();
    auto *newKey = page->findChild<QLineEdit *>(u"newKeyEdit"_s);
    // Written by the reader's thread: the answer arrives through the event loop.
    QTRY_VERIFY(!newKey->text().isEmpty());
    const QString key = newKey->text();
    QVERIFY2(ApiKey::looksLikeKey(key), qPrintable(key));
    QVERIFY(newKey->isVisible());
    auto *table = page->findChild<QTableWidget *>(u"keysTable"_s);
    QTRY_COMPARE(table->rowCount(), 1);
    QCOMPARE(table->item(0, 0)->text(), u"ci runner"_s);
    QCOMPARE(table->item(0, 2)->text(), u"push"_s); // one scope: no separator
    QVERIFY(key.startsWith(table->item(0, 1)->text().chopped(1)));
    // Shown once: Done hides it for good.
    page->findChild<QPushButton *>(u"doneButton"_s)->click();
    QVERIFY(newKey->text().isEmpty());
    QVERIFY(!newKey->isVisible());

    // The window tells the server: keys are required at once, and this one works at once.
    const QByteArray body = summary("keyed", "2025-01-01T10:00:00Z", "", "");
    QCOMPARE(request(port, "POST", "/push", body).status, 401);
    QCOMPARE(request(port, "POST", "/k/" + key.toLatin1() + "/push", body).status, 200);

    // Revoke asks first; "no" changes nothing.
    QStringList asked;
    bool answer = false;
    m_window->setConfirm({});
    page->setConfirm([&](const QString &, const QString &text, const QString &) {
        asked << text;
        return answer;
    });
    table->selectRow(0);
    auto *revoke = page->findChild<QPushButton *>(u"revokeButton"_s);
    QVERIFY(revoke->isEnabled());
    revoke->click();
    QCOMPARE(asked.size(), 1);
    QVERIFY(asked.first().contains(u"ci runner"));
    QCOMPARE(table->item(0, 5)->text(), u"active"_s);
    answer = true;
    revoke->click();
    QTRY_VERIFY(table->item(0, 5)->text().startsWith(u"revoked"));
    QVERIFY(!revoke->isEnabled());
    // Refused at once, not after the server's next periodic read of the keys.
    QCOMPARE(request(port, "POST", "/k/" + key.toLatin1() + "/push", body).status, 401);

    // Empty name: refused with a message, nothing created.
    page->findChild<QPushButton *>(u"createButton"_s)->click();
    QCOMPARE(table->rowCount(), 1);
    QVERIFY(page->findChild<QLabel *>(u"keysStatus"_s)->text().contains(u"name"));
}

void TstDashboard::shareWithTheTeam()
{
    m_window = startedWindow();
    QVERIFY(m_window);
    m_window->show();
    QStringList asked;
    m_window->setConfirm([&](const QString &title, const QString &, const QString &) {
        asked << title;
        return true;
    });
    auto *share = child<QCheckBox>("shareSwitch");
    QVERIFY(!share->isChecked());
    QVERIFY(m_window->clientSnippet().contains(u"coordinator_url: \"http://127.0.0.1:"));
    share->click();
    QCOMPARE(asked.size(), 2); // share? then: create a key?
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Listening);
    QTRY_COMPARE(m_window->controller().url().host(), u"0.0.0.0"_s);
    QVERIFY(share->isChecked());
    QTRY_VERIFY(m_window->clientSnippet().contains(u"/k/agm_"));
    const QString snippet = m_window->clientSnippet();
    QVERIFY2(snippet.startsWith(u"federated:\n  enabled: true\n  coordinator_url: \"http://"),
             qPrintable(snippet));
    QVERIFY2(snippet.contains(u':' + QString::number(m_window->controller().port()) + u"/k/agm_"),
             qPrintable(snippet));
    QVERIFY(!m_window->bannerShown()); // a key is required now

    // The key in the snippet works.
    const qsizetype k = snippet.indexOf(u"/k/");
    const QByteArray key = snippet.mid(k + 3, snippet.indexOf(u'"', k) - k - 3).toLatin1();
    QCOMPARE(request(m_window->controller().port(), "POST", "/k/" + key + "/push",
                     summary("remote", "2025-01-01T10:00:00Z", "", ""))
                 .status,
             200);

    // Off again: back on loopback.
    share->click();
    QTRY_COMPARE(m_window->controller().url().host(), u"127.0.0.1"_s);
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Listening);
}

void TstDashboard::bannerWhenExposedWithoutKey()
{
    ServerConfig c = config();
    c.host = QHostAddress::Any;
    m_window = std::make_unique<MainWindow>(c);
    m_window->show();
    QVERIFY(child<QCheckBox>("shareSwitch")->isChecked());
    m_window->startServer();
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Listening);
    QVERIFY(m_window->controller().exposedWithoutKey());
    QTRY_VERIFY(m_window->bannerShown());
    QVERIFY(child<QLabel>("exposedBanner")->isVisible());
    // Creating a key (auth auto) makes the server require one: the banner goes.
    m_window->keysPage()->createKey(u"team"_s, Scope::Push | Scope::Pull);
    QTRY_VERIFY(!m_window->bannerShown());
    m_window->stopServer();
    QTRY_COMPARE(m_window->controller().state(), ServerController::State::Stopped);
    QVERIFY(!m_window->bannerShown());
}

// The window shows before anything is read: the views say they are loading, then fill in
// from the reader's first snapshot (which arrives through the event loop).
void TstDashboard::loadingThenFilled()
{
    {
        QString error;
        const std::unique_ptr<Store> store = Store::open(config().store, {}, &error);
        QVERIFY2(store, qPrintable(error));
        StoreWriter writer{*store, MergeEngine()};
        QVERIFY(writer.push(u"agent-1"_s, {u"f1"_s, u"f2"_s}));
        QVERIFY(writer.push(u"agent-2"_s, {u"f2"_s}));
    }
    m_window = std::make_unique<MainWindow>(config());
    m_window->show();
    QVERIFY(!m_window->loaded());
    auto *loading = m_window->findChild<QLabel *>(u"agentsViewLoading"_s);
    QVERIFY(loading);
    QVERIFY(loading->isVisibleTo(m_window.get()));
    QVERIFY(loading->text().contains(u"Reading"));
    QVERIFY(child<QLabel>("summaryLabel")->text().contains(u"Reading"));
    QCOMPARE(child<QTableView>("agentsView")->model()->rowCount(), 0);

    QTRY_VERIFY(m_window->loaded());
    QVERIFY(!loading->isVisibleTo(m_window.get()));
    QCOMPARE(child<QTableView>("agentsView")->model()->rowCount(), 2);
    QCOMPARE(child<QTableView>("factsView")->model()->rowCount(), 2);
    QVERIFY2(child<QLabel>("summaryLabel")->text().contains(u"Agents: 2"),
             qPrintable(child<QLabel>("summaryLabel")->text()));
    // The agent's history comes from the reader too.
    child<QTableView>("agentsView")->selectRow(0);
    auto *history = child<QTableWidget>("agentHistoryTable");
    QTRY_VERIFY(history->item(0, 1) && !history->item(0, 1)->text().isEmpty());
    QCOMPARE(history->rowCount(), 1);
    QVERIFY(!m_window->databaseBannerShown());
}

// A database that cannot be opened shows the banner with the time it started; once the
// database is there (the server creates it), the window recovers by itself.
void TstDashboard::databaseUnreachableBanner()
{
    m_window = std::make_unique<MainWindow>(config()); // no database file yet
    m_window->setUnreachableAfter(300);
    m_window->show();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->databaseBannerShown(), 10000);
    const QString text = child<QLabel>("databaseBanner")->text();
    QVERIFY2(text.contains(u"coordinator.db") && text.contains(u"since"), qPrintable(text));
    QVERIFY(!m_window->loaded());
    m_window->startServer(); // creates the database
    QTRY_VERIFY_WITH_TIMEOUT(m_window->loaded(), 10000);
    QTRY_VERIFY(!m_window->databaseBannerShown());
}

// A PostgreSQL server that accepts connections and never answers (as one stopped with
// SIGSTOP): the reader hangs, the window does not. It says the database does not answer.
void TstDashboard::hangingDatabaseKeepsWindowResponsive()
{
    if (!QSqlDatabase::isDriverAvailable(u"QPSQL"_s))
        QSKIP("the Qt PostgreSQL driver is not installed");
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    ServerConfig c = config();
    QString error;
    const auto url = StoreUrl::parse(
        u"postgresql://agmem@127.0.0.1:%1/agmem"_s.arg(silent.serverPort()), &error);
    QVERIFY2(url, qPrintable(error));
    c.store = *url;
    m_window = std::make_unique<MainWindow>(c);
    m_window->setUnreachableAfter(300);
    m_window->show();
    // The event loop keeps running (QTRY spins it) while the reader waits on the socket.
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(m_window->databaseBannerShown(), 4000);
    QVERIFY(clock.elapsed() < 4000);
    QVERIFY(!m_window->loaded());
    const QString text = child<QLabel>("databaseBanner")->text();
    QVERIFY2(text.contains(u"since"), qPrintable(text));
    // Other work goes on: the filter edits at once.
    child<QLineEdit>("agentFilter")->setText(u"x"_s);
    QCOMPARE(child<QLineEdit>("agentFilter")->text(), u"x"_s);
}

// The deadline runs on the window's clock (injected here): the ping to a database that
// never answers goes out at once, and the banner shows exactly when it is overdue, saying
// since when, whatever else the reader is doing.
void TstDashboard::bannerAfterUnansweredPingDeadline()
{
    if (!QSqlDatabase::isDriverAvailable(u"QPSQL"_s))
        QSKIP("the Qt PostgreSQL driver is not installed");
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    ServerConfig c = config();
    QString error;
    const auto url = StoreUrl::parse(
        u"postgresql://agmem@127.0.0.1:%1/agmem"_s.arg(silent.serverPort()), &error);
    QVERIFY2(url, qPrintable(error));
    c.store = *url;
    qint64 now = 0;
    m_window = std::make_unique<MainWindow>(c);
    m_window->setClock([&now] { return now; });
    m_window->setUnreachableAfter(1000);
    m_window->show();
    // The first ping is asked for at 0 (the watch runs every 100 ms of real time).
    QTest::qWait(400);
    now = 999;
    QTest::qWait(400);
    QVERIFY(!m_window->databaseBannerShown());
    now = 1000;
    QTRY_VERIFY_WITH_TIMEOUT(m_window->databaseBannerShown(), 2000);
    const QString text = child<QLabel>("databaseBanner")->text();
    QVERIFY2(text.contains(u"since") && text.contains(u"no answer"), qPrintable(text));
    QVERIFY(!m_window->loaded());
}

// The reader starts from what the server loaded: the first refresh reads only what changed
// after the snapshot's sequence (here the snapshot holds a fact the database does not, so
// what is shown tells where it came from); a snapshot ahead of the database is not used.
void TstDashboard::readerStartsFromServerSnapshot()
{
    QString error;
    const std::unique_ptr<Store> store = Store::open(config().store, {}, &error);
    QVERIFY2(store, qPrintable(error));
    StoreWriter writer{*store, MergeEngine()};
    QVERIFY(writer.push(u"agent-1"_s, {u"f1"_s}));
    QVERIFY(writer.push(u"agent-2"_s, {u"f2"_s}));

    // The agents' rows as of `rows`; the snapshot says `sequence`.
    const auto seeded = [&](quint64 rows, quint64 sequence) {
        MergeEngine fake;
        fake.apply(u"agent-1"_s, Contribution{1, {}, {u"seeded"_s}}, 1, rows - 1);
        fake.apply(u"agent-2"_s, Contribution{2, {}, {u"f2"_s}}, 2, rows);
        fake.apply(u"gone"_s, Contribution{2, {}, {u"gone-fact"_s}}, 2, rows);
        fake.setSequence(sequence);
        return fake.snapshot();
    };
    {
        StoreReader reader(config().store);
        reader.seed(seeded(2, writer.engine.sequence()));
        const LiveDeltaPtr first = readDelta(reader);
        QVERIFY(first);
        QVERIFY(first->reset);
        QVERIFY(first->allFacts);
        // From the snapshot, less the agent the database does not have.
        QCOMPARE(*first->allFacts, (std::vector<QString>{u"f2"_s, u"seeded"_s}));
        QCOMPARE(first->counters.size(), 2);
        QCOMPARE(first->changedAgents.size(), 2);
        QCOMPARE(first->state.sequence, writer.engine.sequence());
        QVERIFY(!first->state.databaseId.isEmpty());

        // Later changes arrive as usual.
        QVERIFY(writer.push(u"agent-1"_s, {u"seeded"_s, u"f3"_s}));
        const LiveDeltaPtr next = readDelta(reader);
        QVERIFY(next);
        QVERIFY(!next->reset);
        QCOMPARE(next->changedFacts, (QList<QPair<QString, qint64>>{{u"f3"_s, qint64(1)}}));
    }
    {
        // A snapshot whose sequence is newer than its agent rows (PostgreSQL: another
        // instance committed between the server's load and its reading the sequence):
        // changes are read after the newest row it holds, so agent-1's f3 (sequence 3)
        // is not lost.
        StoreReader reader(config().store);
        reader.seed(seeded(2, writer.engine.sequence()));
        const LiveDeltaPtr first = readDelta(reader);
        QVERIFY(first);
        QCOMPARE(*first->allFacts, (std::vector<QString>{u"f2"_s, u"f3"_s, u"seeded"_s}));
    }
    {
        // Ahead of the database (another one, or reset since): read in full instead.
        StoreReader reader(config().store);
        reader.seed(seeded(10, 10));
        const LiveDeltaPtr first = readDelta(reader);
        QVERIFY(first);
        QVERIFY(first->reset);
        QCOMPARE(first->changedAgents.size(), 2);
        QCOMPARE(*first->allFacts, (std::vector<QString>{u"f2"_s, u"f3"_s, u"seeded"_s}));
        QCOMPARE(first->allHolders->value(u"f2"_s), qint64(1));
    }
}

// Launched with the server: the window's first snapshot is the server's, handed over.
void TstDashboard::windowSeededByServer()
{
    {
        QString error;
        const std::unique_ptr<Store> store = Store::open(config().store, {}, &error);
        QVERIFY2(store, qPrintable(error));
        StoreWriter writer{*store, MergeEngine()};
        QVERIFY(writer.push(u"agent-1"_s, {u"f1"_s, u"f2"_s}));
    }
    m_window = std::make_unique<MainWindow>(config());
    AgentsSnapshotPtr handed;
    QObject context; // goes before the window: the connection with it
    connect(&m_window->controller(), &ServerController::loaded, &context,
            [&handed](const AgentsSnapshotPtr &s) { handed = s; });
    m_window->show();
    m_window->startServer();
    QTRY_VERIFY(handed);
    QCOMPARE(handed->agents.size(), 1);
    QCOMPARE(handed->sequence, quint64(1));
    QTRY_VERIFY(m_window->loaded());
    QCOMPARE(child<QTableView>("factsView")->model()->rowCount(), 2);
    QVERIFY(!m_window->databaseBannerShown());
}

QTEST_MAIN(TstDashboard)
#include "tst_dashboard.moc"
