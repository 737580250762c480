// logSafe(): a field from a request can never start a second log line or blur where a
// field ends, whatever characters it holds.
#include "core/logging.h"

#include <QtTest>

using namespace Qt::StringLiterals;

class TstLogSafe : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void escapes_data();
    void escapes();
    void noControlCharacterSurvives();
};

void TstLogSafe::escapes_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("expected");
    QTest::newRow("plain") << u"/pull?x=1 ä €"_s << u"/pull?x=1 ä €"_s;
    QTest::newRow("empty") << QString() << QString();
    QTest::newRow("newline") << u"a\nb"_s << u"a\\nb"_s;
    QTest::newRow("carriage return, tab") << u"a\r\tb"_s << u"a\\r\\tb"_s;
    QTest::newRow("escape sequence") << u"\x1b[2J"_s << u"\\x1b[2J"_s;
    QTest::newRow("NUL") << QString(QChar(0)) << u"\\x00"_s;
    QTest::newRow("DEL") << u"\x7f"_s << u"\\x7f"_s;
    QTest::newRow("C1 NEL") << QString(QChar(0x85)) << u"\\x85"_s;
    QTest::newRow("line separator") << QString(QChar(0x2028)) << u"\\u2028"_s;
    QTest::newRow("paragraph separator") << QString(QChar(0x2029)) << u"\\u2029"_s;
    // A backslash is escaped too, so "\n" typed by a client stays distinguishable.
    QTest::newRow("backslash") << u"a\\nb"_s << u"a\\\\nb"_s;
}

void TstLogSafe::escapes()
{
    QFETCH(QString, input);
    QFETCH(QString, expected);
    QCOMPARE(agmem::logSafe(input), expected);
}

void TstLogSafe::noControlCharacterSurvives()
{
    QString all;
    for (char16_t c = 0; c < 0x3000; ++c)
        all += QChar(c);
    const QString safe = agmem::logSafe(all);
    for (const QChar c : safe) {
        const char16_t u = c.unicode();
        QVERIFY2(u >= 0x20 && !(u >= 0x7f && u <= 0x9f) && u != 0x2028 && u != 0x2029,
                 qPrintable(QString::number(u, 16)));
    }
}

QTEST_GUILESS_MAIN(TstLogSafe)

#include "tst_logsafe.moc"
