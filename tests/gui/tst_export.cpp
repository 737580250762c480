// File → Export: the dialog writes valid files for every choice (the merged JSON is the /pull
// body of the running server), works from its widgets, reports errors, and Cancel on a large
// history (20 000 pushes) stops the worker and leaves no file, an existing one unchanged.

#include "exportsupport.h"
#include "testsupport.h"
#include "writersupport.h"

#include "gui/exportdialog.h"
#include "gui/mainwindow.h"

#include "core/timestamp.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

// Generous: only a hang reaches it (a healthy export here takes well under a second).
constexpr int FinishTimeoutMs = 60000;
constexpr int LargeHistory = 20000;

QByteArray readAll(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QByteArrayLiteral("<cannot read>");
    return file.readAll();
}

QByteArray pushBody(int i)
{
    static const QStringList topics = {u"comma, topic"_s,   u"quote \"q\""_s, u"multi\nline"_s,
                                       u"Ünïcödé 東京 😀"_s, u"=SUM(A1)"_s,    u"-minus"_s};
    return test::summaryBody(
        u"agent-%1"_s.arg(i % 3), u"2026-01-01T00:00:%1Z"_s.arg(10 + i),
        QJsonObject{{topics.at(i % topics.size()), i + 1}, {topics.at((i + 1) % topics.size()), 1}},
        {u"fact-%1"_s.arg(i % 4), topics.at(i % topics.size())});
}

} // namespace

class TstExportDialog : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void exportsValidFiles_data();
    void exportsValidFiles();
    void widgetsDriveTheExport();
    void accessibleAndInTabOrder();
    void errorIsReported();
    void cancelLargeHistory_data();
    void cancelLargeHistory();
    void mainWindowFileMenu();

private:
    QString path(const QString &name) const { return m_dir->filePath(name); }
    // Files in the test's folder, but the database's.
    QStringList exportedFiles() const
    {
        QStringList files = QDir(m_dir->path()).entryList(QDir::Files | QDir::Hidden);
        files.removeIf([](const QString &name) { return name.startsWith(u"large.db"); });
        return files;
    }
    // A SQLite database with LargeHistory pushes, written directly through Store.
    std::optional<StoreUrl> largeDatabase();

    std::unique_ptr<QTemporaryDir> m_dir;
};

void TstExportDialog::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TstExportDialog::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TstExportDialog::cleanup()
{
    m_dir.reset();
}

std::optional<StoreUrl> TstExportDialog::largeDatabase()
{
    StoreUrl url;
    url.kind = StoreUrl::Kind::SqliteFile;
    url.path = path(u"large.db"_s);
    QString error;
    const std::unique_ptr<Store> store = Store::open(url, {}, &error);
    if (!store) {
        qWarning().noquote() << error;
        return std::nullopt;
    }
    QList<test::StoredPush> pushes;
    pushes.reserve(LargeHistory);
    const Instant start = *parseIsoTimestamp(u"2026-01-01T00:00:00Z");
    for (int i = 0; i < LargeHistory; ++i) {
        Summary s;
        s.agentId = u"agent-%1"_s.arg(i % 50);
        s.timestamp = start + Instant(i) * 1000000;
        s.topicCounts = {{u"topic, %1"_s.arg(i % 20), i}, {u"\"quoted\" %1"_s.arg(i % 7), 1}};
        s.factHashes = {u"fact-%1"_s.arg(i % 100), u"fact-%1"_s.arg((i + 1) % 100)};
        pushes.append({s, start + Instant(i) * 1000, u"127.0.0.1"_s});
    }
    MergeEngine engine;
    if (!test::commitPushes(*store, engine, pushes)) {
        qWarning().noquote() << store->lastError();
        return std::nullopt;
    }
    return url;
}

void TstExportDialog::exportsValidFiles_data()
{
    QTest::addColumn<int>("what");
    QTest::addColumn<int>("format");
    for (ExportWhat w : {ExportWhat::Merged, ExportWhat::Agents, ExportWhat::History}) {
        for (ExportFormat f : {ExportFormat::Json, ExportFormat::Csv}) {
            QTest::addRow("%s %s", qPrintable(exportWhatName(w)), qPrintable(exportFormatName(f)))
                << int(w) << int(f);
        }
    }
}

void TstExportDialog::exportsValidFiles()
{
    QFETCH(int, what);
    QFETCH(int, format);
    test::TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    constexpr int Pushes = 14;
    for (int i = 0; i < Pushes; ++i)
        VERIFY_STATUS(test::httpPostJson(server.port(), "/push", pushBody(i)), 200);

    ExportDialog dialog(*server.store());
    QSignalSpy finished(&dialog, &ExportDialog::finished);
    QSignalSpy progress(&dialog, &ExportDialog::progressChanged);
    const QString file =
        path(ExportDialog::suggestedFileName(ExportWhat(what), ExportFormat(format)));
    QVERIFY(dialog.startExport(ExportWhat(what), ExportFormat(format), file));
    QVERIFY(dialog.isRunning());
    QVERIFY(!dialog.startExport(ExportWhat(what), ExportFormat(format), file)); // one at a time
    QVERIFY(finished.wait(FinishTimeoutMs));
    QCOMPARE(finished.size(), 1);
    const bool ok = finished.first().at(0).toBool();
    const QString message = finished.first().at(1).toString();
    QVERIFY2(ok, qPrintable(message));
    QVERIFY2(message.contains(QDir::toNativeSeparators(file)), qPrintable(message));
    QVERIFY(!dialog.isRunning());
    QVERIFY(!progress.isEmpty());
    QCOMPARE(progress.last().at(0).toLongLong(), progress.last().at(1).toLongLong());
    QCOMPARE(dialog.findChild<QProgressBar *>(u"progressBar"_s)->value(), 1000);
    QCOMPARE(dialog.findChild<QLabel *>(u"statusLabel"_s)->text(), message);

    const QByteArray bytes = readAll(file);
    QString why;
    if (ExportFormat(format) == ExportFormat::Csv) {
        const auto rows = test::parseCsv(bytes, &why);
        QVERIFY2(rows, qPrintable(why));
        const qsizetype expected = ExportWhat(what) == ExportWhat::History  ? Pushes
                                   : ExportWhat(what) == ExportWhat::Agents ? 3
                                                                            : rows->size() - 1;
        QCOMPARE(rows->size(), expected + 1);
        QCOMPARE(progress.last().at(1).toLongLong(), qint64(expected));
        for (const QStringList &row : *rows)
            QCOMPARE(row.size(), rows->first().size());
    } else if (ExportWhat(what) == ExportWhat::History) {
        const auto lines = test::parseJsonLines(bytes, &why);
        QVERIFY2(lines, qPrintable(why));
        QCOMPARE(lines->size(), qsizetype(Pushes));
        for (int i = 0; i < Pushes; ++i)
            QCOMPARE(lines->at(i).value(u"agent_id"_s).toString(), u"agent-%1"_s.arg(i % 3));
    } else if (ExportWhat(what) == ExportWhat::Agents) {
        QJsonParseError parse;
        const QJsonDocument doc = QJsonDocument::fromJson(bytes, &parse);
        QVERIFY2(parse.error == QJsonParseError::NoError, qPrintable(parse.errorString()));
        QCOMPARE(doc.array().size(), qsizetype(3));
        QCOMPARE(doc.array().at(0).toObject().value(u"pushes"_s).toInteger(), qint64(5));
    } else {
        const test::HttpResponse pull = test::httpGet(server.port(), "/pull");
        VERIFY_STATUS(pull, 200);
        QCOMPARE(bytes, pull.body);
    }
}

void TstExportDialog::widgetsDriveTheExport()
{
    test::TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    for (int i = 0; i < 6; ++i)
        VERIFY_STATUS(test::httpPostJson(server.port(), "/push", pushBody(i)), 200);

    ExportDialog dialog(*server.store());
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    auto *whatCombo = dialog.findChild<QComboBox *>(u"whatCombo"_s);
    auto *formatCombo = dialog.findChild<QComboBox *>(u"formatCombo"_s);
    auto *fileEdit = dialog.findChild<QLineEdit *>(u"fileEdit"_s);
    auto *exportButton = dialog.findChild<QPushButton *>(u"exportButton"_s);
    auto *cancelButton = dialog.findChild<QPushButton *>(u"cancelButton"_s);
    QVERIFY(whatCombo && formatCombo && fileEdit && exportButton && cancelButton);
    QCOMPARE(whatCombo->count(), 3);
    QCOMPARE(formatCombo->count(), 2);
    // A file name is proposed for the choice, and follows it.
    QVERIFY(fileEdit->text().endsWith(u"agmem-merged.json"));
    whatCombo->setCurrentIndex(2);
    QCOMPARE(dialog.what(), ExportWhat::History);
    QVERIFY2(fileEdit->text().endsWith(u"agmem-history.jsonl"), qPrintable(fileEdit->text()));
    formatCombo->setCurrentIndex(1);
    QCOMPARE(dialog.format(), ExportFormat::Csv);
    QVERIFY(fileEdit->text().endsWith(u"agmem-history.csv"));
    QVERIFY(!cancelButton->isEnabled());

    const QString file = path(u"chosen.csv"_s);
    fileEdit->setText(file);
    whatCombo->setCurrentIndex(1); // a typed name is kept when the choice changes
    QCOMPARE(fileEdit->text(), file);
    whatCombo->setCurrentIndex(2);
    fileEdit->clear();
    QVERIFY(!exportButton->isEnabled());
    fileEdit->setText(file);
    QVERIFY(exportButton->isEnabled());

    QSignalSpy finished(&dialog, &ExportDialog::finished);
    QTest::mouseClick(exportButton, Qt::LeftButton);
    QVERIFY(dialog.isRunning());
    QVERIFY(!exportButton->isEnabled());
    QVERIFY(!whatCombo->isEnabled());
    QVERIFY(finished.wait(FinishTimeoutMs));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QVERIFY(exportButton->isEnabled());
    QVERIFY(!cancelButton->isEnabled());
    QString why;
    const auto rows = test::parseCsv(readAll(file), &why);
    QVERIFY2(rows, qPrintable(why));
    QCOMPARE(rows->size(), qsizetype(6 + 1));
    QCOMPARE(rows->first().first(), u"id"_s);
}

void TstExportDialog::accessibleAndInTabOrder()
{
    StoreUrl url;
    url.kind = StoreUrl::Kind::SqliteFile;
    url.path = path(u"none.db"_s);
    ExportDialog dialog(url);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    const QStringList order = {u"whatCombo"_s,    u"formatCombo"_s,  u"fileEdit"_s,
                               u"browseButton"_s, u"exportButton"_s, u"cancelButton"_s,
                               u"closeButton"_s};
    for (const QString &name : order) {
        auto *widget = dialog.findChild<QWidget *>(name);
        QVERIFY2(widget, qPrintable(name));
        if (!qobject_cast<QPushButton *>(widget) || name == u"browseButton")
            QVERIFY2(!widget->accessibleName().isEmpty(), qPrintable(name));
    }
    // Tab goes through the inputs in reading order.
    QStringList chain;
    QWidget *w = dialog.findChild<QWidget *>(order.first());
    for (int i = 0; i < 40 && chain.size() < order.size(); ++i) {
        if ((w->focusPolicy() & Qt::TabFocus) && order.contains(w->objectName()) &&
            !chain.contains(w->objectName()))
            chain.append(w->objectName());
        w = w->nextInFocusChain();
    }
    QCOMPARE(chain, order);
    // Labels lead to their inputs (Alt+letter).
    QCOMPARE(dialog.findChild<QLabel *>(u"whatLabel"_s)->buddy(),
             dialog.findChild<QWidget *>(u"whatCombo"_s));
    QCOMPARE(dialog.findChild<QLabel *>(u"fileLabel"_s)->buddy(),
             dialog.findChild<QWidget *>(u"fileEdit"_s));
}

void TstExportDialog::errorIsReported()
{
    test::TestServer server;
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    ExportDialog dialog(*server.store());
    QSignalSpy finished(&dialog, &ExportDialog::finished);
    QVERIFY(!dialog.startExport(ExportWhat::Agents, ExportFormat::Csv, u"  "_s));
    QVERIFY(finished.isEmpty());
    const QString file = path(u"missing-folder/agents.csv"_s);
    QVERIFY(dialog.startExport(ExportWhat::Agents, ExportFormat::Csv, file));
    QVERIFY(finished.wait(FinishTimeoutMs));
    QCOMPARE(finished.first().at(0).toBool(), false);
    const QString message = finished.first().at(1).toString();
    QVERIFY2(message.startsWith(u"Export failed: ") && message.contains(u"missing-folder"),
             qPrintable(message));
    QVERIFY(!QFileInfo::exists(file));
    QVERIFY(!dialog.findChild<QProgressBar *>(u"progressBar"_s)->isVisible());
}

void TstExportDialog::cancelLargeHistory_data()
{
    QTest::addColumn<bool>("byClosing");
    QTest::addColumn<bool>("existing");
    QTest::addRow("cancel button") << false << false;
    QTest::addRow("cancel button, existing file") << false << true;
    QTest::addRow("closing the dialog") << true << false;
}

void TstExportDialog::cancelLargeHistory()
{
    QFETCH(bool, byClosing);
    QFETCH(bool, existing);
    const std::optional<StoreUrl> url = largeDatabase();
    QVERIFY(url);
    const QString file = path(u"history.jsonl"_s);
    const QByteArray before = QByteArrayLiteral("an earlier export\n");
    if (existing) {
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        QCOMPARE(f.write(before), qint64(before.size()));
    }
    const QStringList filesBefore = exportedFiles();

    ExportDialog dialog(*url);
    dialog.setBatchSize(50);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QSignalSpy finished(&dialog, &ExportDialog::finished);
    QSignalSpy progress(&dialog, &ExportDialog::progressChanged);
    // Cancel as soon as the export is under way (the first batch written).
    bool cancelled = false;
    connect(&dialog, &ExportDialog::progressChanged, &dialog, [&](qint64 done, qint64) {
        if (done > 0 && !cancelled) {
            cancelled = true;
            if (byClosing)
                dialog.reject();
            else
                QTest::mouseClick(dialog.findChild<QPushButton *>(u"cancelButton"_s),
                                  Qt::LeftButton);
        }
    });
    QVERIFY(dialog.startExport(ExportWhat::History, ExportFormat::Json, file));
    QVERIFY(finished.wait(FinishTimeoutMs));
    QVERIFY(cancelled);
    QCOMPARE(finished.size(), 1);
    QCOMPARE(finished.first().at(0).toBool(), false);
    QCOMPARE(finished.first().at(1).toString(), u"Export cancelled; no file was written."_s);
    // Stopped part-way: never reported all rows.
    QVERIFY(!progress.isEmpty());
    QVERIFY(progress.last().at(0).toLongLong() < LargeHistory);
    for (const QList<QVariant> &report : std::as_const(progress))
        QCOMPARE(report.at(1).toLongLong(), qint64(LargeHistory));
    QVERIFY(!dialog.isRunning());
    QCOMPARE(exportedFiles(), filesBefore);
    QCOMPARE(QFileInfo::exists(file), existing);
    if (existing)
        QCOMPARE(readAll(file), before);
    // Closing waited for the worker, then closed; the button leaves the dialog open.
    QCOMPARE(dialog.isVisible(), !byClosing);
    if (!byClosing) {
        QVERIFY(dialog.findChild<QPushButton *>(u"exportButton"_s)->isEnabled());
        QVERIFY(!dialog.findChild<QPushButton *>(u"cancelButton"_s)->isEnabled());
        // And the same dialog then exports the whole history.
        QVERIFY(dialog.startExport(ExportWhat::History, ExportFormat::Json, file));
        QVERIFY(finished.wait(FinishTimeoutMs));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(finished.last().at(1).toString()));
        QString why;
        const auto lines = test::parseJsonLines(readAll(file), &why);
        QVERIFY2(lines, qPrintable(why));
        QCOMPARE(lines->size(), qsizetype(LargeHistory));
    }
}

void TstExportDialog::mainWindowFileMenu()
{
    ServerConfig config;
    config.host = QHostAddress::LocalHost;
    config.port = 0;
    config.store.kind = StoreUrl::Kind::SqliteFile;
    config.store.path = path(u"window.db"_s);
    config.accessLog = false;
    {
        QString error;
        QVERIFY2(Store::open(config.store, {}, &error), qPrintable(error)); // an empty database
    }
    MainWindow window(config);
    auto *action = window.findChild<QAction *>(u"exportAction"_s);
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(u"Ctrl+E"_s));
    auto *fileMenu = window.findChild<QMenu *>(u"fileMenu"_s);
    QVERIFY(fileMenu);
    const QList<QAction *> actions = fileMenu->actions();
    const qsizetype at = actions.indexOf(action);
    QVERIFY(at >= 0);
    const qsizetype quit = actions.indexOf(window.findChild<QAction *>(u"quitAction"_s));
    QVERIFY(at < quit);
    QVERIFY(actions.at(quit - 1)->isSeparator());

    QVERIFY(!window.findChild<ExportDialog *>());
    action->trigger();
    auto *dialog = window.findChild<ExportDialog *>();
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QVERIFY(dialog->isModal() || dialog->windowModality() != Qt::NonModal);
    // It exports from the window's database.
    const QString file = path(u"from-window.json"_s);
    QSignalSpy finished(dialog, &ExportDialog::finished);
    QVERIFY(dialog->startExport(ExportWhat::Merged, ExportFormat::Json, file));
    QVERIFY(finished.wait(FinishTimeoutMs));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QVERIFY(readAll(file).startsWith("{\"merged_topic_counts\":{}"));
    dialog->reject();
}

QTEST_MAIN(TstExportDialog)
#include "tst_export.moc"
