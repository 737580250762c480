// --lang picks the window's language; the German translation is built in and complete.
#include "config/options.h"
#include "gui/dashboard.h"
#include "gui/mainwindow.h"

#include <QCoreApplication>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTranslator>
#include <tuple>

using namespace agmem;
using namespace Qt::StringLiterals;

class TstTranslations : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void langOption_data();
    void langOption();
    void germanWindow();
    void pluralForms();
};

void TstTranslations::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TstTranslations::langOption_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("language");
    QTest::addRow("none") << QStringList{} << true << QString();
    QTest::addRow("de") << QStringList{u"--lang"_s, u"de"_s} << true << u"de"_s;
    QTest::addRow("fr_FR") << QStringList{u"--lang"_s, u"fr_FR"_s} << true << u"fr_FR"_s;
    QTest::addRow("es") << QStringList{u"--lang=es"_s} << true << u"es"_s;
    QTest::addRow("unknown") << QStringList{u"--lang"_s, u"xx"_s} << false << QString();
}

void TstTranslations::langOption()
{
    QFETCH(QStringList, arguments);
    QFETCH(bool, ok);
    QFETCH(QString, language);
    arguments.prepend(u"agmem-coordinator"_s);
    const AppOptions options = parseOptions(arguments, nullptr);
    QCOMPARE(options.outcome == AppOptions::Outcome::Run, ok);
    if (ok)
        QCOMPARE(options.language, language);
    else
        QVERIFY(options.message.contains(u"--lang"));
}

void TstTranslations::germanWindow()
{
    const AppOptions options = parseOptions(
        {u"agmem-coordinator"_s, u"--lang"_s, u"de"_s, u"--db"_s, u":memory:"_s}, nullptr);
    QCOMPARE(options.outcome, AppOptions::Outcome::Run);
    QVERIFY(installTranslations(options.language));
    MainWindow window(options.server);
    QCOMPARE(window.findChild<QPushButton *>(u"startButton"_s)->text(), u"&Starten"_s);
    QCOMPARE(window.findChild<QPushButton *>(u"stopButton"_s)->text(), u"S&toppen"_s);
    QVERIFY(window.findChild<QLabel *>(u"stateLabel"_s)->text().contains(u"Gestoppt"));
    auto *tabs = window.findChild<QTabWidget *>(u"tabs"_s);
    QCOMPARE(tabs->tabText(0), u"&Agenten"_s);
    QCOMPARE(tabs->tabText(4), u"API-&Schlüssel"_s);
    // Text made in code, not only in forms.
    QCOMPARE(window.findChild<QTableView *>(u"agentsView"_s)
                 ->model()
                 ->headerData(1, Qt::Horizontal)
                 .toString(),
             u"Zuerst gesehen"_s);
}

// Counts use plural forms ("1 topic", not "1 topics"), in English as in the translations.
void TstTranslations::pluralForms()
{
    const auto topics = [](int n) {
        return QCoreApplication::translate("agmem::MainWindow", "%n topic(s)", nullptr, n);
    };
    for (const auto &[language, one, many] : {std::tuple{u"en"_s, u"1 topic"_s, u"3 topics"_s},
                                              std::tuple{u"de"_s, u"1 Thema"_s, u"3 Themen"_s},
                                              std::tuple{u"fr"_s, u"1 sujet"_s, u"3 sujets"_s},
                                              std::tuple{u"es"_s, u"1 tema"_s, u"3 temas"_s}}) {
        QVERIFY2(installTranslations(language), qPrintable(language));
        QCOMPARE(topics(1), one);
        QCOMPARE(topics(3), many);
    }
    // The header of the agent history is as wide as its longest German title.
    QVERIFY(installTranslations(u"de"_s));
    const AppOptions options =
        parseOptions({u"agmem-coordinator"_s, u"--db"_s, u":memory:"_s}, nullptr);
    MainWindow window(options.server);
    window.show();
    auto *history = window.findChild<QTableWidget *>(u"agentHistoryTable"_s);
    QVERIFY(history);
    QHeaderView *header = history->horizontalHeader();
    for (int c = 0; c < header->count(); ++c) {
        const QString title = history->horizontalHeaderItem(c)->text();
        QVERIFY2(header->sectionSize(c) >= header->fontMetrics().horizontalAdvance(title),
                 qPrintable(title));
    }
}

QTEST_MAIN(TstTranslations)
#include "tst_translations.moc"
