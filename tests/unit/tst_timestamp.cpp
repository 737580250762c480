#include "core/timestamp.h"

#include <QDateTime>
#include <QRandomGenerator>
#include <QTimeZone>
#include <QtTest>

#include <algorithm>
#include <limits>

using agmem::Instant;

namespace {

// The expected instant, computed independently of the code under test with QDateTime.
// offsetSeconds is the UTC offset the wall-clock time was written in.
Instant instantOf(int year, int month, int day, int hour = 0, int minute = 0, int second = 0,
                  int microsecond = 0, int offsetSeconds = 0)
{
    const QDateTime dateTime(QDate(year, month, day), QTime(hour, minute, second),
                             QTimeZone(offsetSeconds));
    return dateTime.toMSecsSinceEpoch() * 1000 + microsecond;
}

qint64 floorDiv(qint64 a, qint64 b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0) ? 1 : 0);
}

} // namespace

class TstTimestamp : public QObject
{
    Q_OBJECT

private slots:
    void expectedValuesAreSane();
    void parsesAccepted_data();
    void parsesAccepted();
    void rejects_data();
    void rejects();
    void pythonQuirks_data();
    void pythonQuirks();
    void formats_data();
    void formats();
    void roundTrips_data();
    void roundTrips();
    void roundTripsAcrossAllYears();
    void nowIsCurrent();
};

void TstTimestamp::expectedValuesAreSane()
{
    // The helper must agree with epoch values checked against Python 3.11.
    QCOMPARE(instantOf(1970, 1, 1), Instant(0));
    QCOMPARE(instantOf(2025, 1, 1), Instant(1735689600000000));
    QCOMPARE(instantOf(2025, 1, 1, 0, 0, 0, 0, 5 * 3600), Instant(1735671600000000));
    QCOMPARE(instantOf(1, 1, 1), Instant(-62135596800000000));
}

void TstTimestamp::parsesAccepted_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("expected");

    // What the agmem client sends (values checked with Python 3.11 as well).
    QTest::newRow("client with fraction")
        << QStringLiteral("2026-11-27T09:29:35.164165+00:00") << qint64(1795771775164165);
    QTest::newRow("client without fraction")
        << QStringLiteral("2026-11-27T09:29:35+00:00") << qint64(1795771775000000);
    QTest::newRow("client fraction via QDateTime")
        << QStringLiteral("2026-11-27T09:29:35.164165+00:00")
        << instantOf(2026, 11, 27, 9, 29, 35, 164165);

    // Dates alone, naive times (UTC), Zulu.
    QTest::newRow("date only") << QStringLiteral("2025-01-01") << qint64(1735689600000000);
    QTest::newRow("basic date only") << QStringLiteral("20250101") << instantOf(2025, 1, 1);
    QTest::newRow("Z") << QStringLiteral("2025-01-01T00:00:00Z") << instantOf(2025, 1, 1);
    QTest::newRow("space separator naive")
        << QStringLiteral("2025-01-01 00:00:00") << instantOf(2025, 1, 1);
    QTest::newRow("basic with Z") << QStringLiteral("20250101T000000Z") << instantOf(2025, 1, 1);
    QTest::newRow("any separator")
        << QStringLiteral("2025-06-15_10:20:30") << instantOf(2025, 6, 15, 10, 20, 30);
    QTest::newRow("naive mid-day")
        << QStringLiteral("2025-06-15T10:20:30") << instantOf(2025, 6, 15, 10, 20, 30);

    // Reduced precision and basic time forms.
    QTest::newRow("HH") << QStringLiteral("2025-06-15T10") << instantOf(2025, 6, 15, 10);
    QTest::newRow("HH:MM") << QStringLiteral("2025-06-15T10:20") << instantOf(2025, 6, 15, 10, 20);
    QTest::newRow("HHMM") << QStringLiteral("2025-06-15T1020") << instantOf(2025, 6, 15, 10, 20);
    QTest::newRow("HHMMSS") << QStringLiteral("2025-06-15T102030")
                            << instantOf(2025, 6, 15, 10, 20, 30);
    QTest::newRow("HHMMSS.ff") << QStringLiteral("2025-06-15T102030.25")
                               << instantOf(2025, 6, 15, 10, 20, 30, 250000);
    QTest::newRow("HH with Z") << QStringLiteral("2025-06-15T10Z") << instantOf(2025, 6, 15, 10);

    // Fractions.
    QTest::newRow("1 digit") << QStringLiteral("2025-06-15T10:20:30.1Z")
                             << instantOf(2025, 6, 15, 10, 20, 30, 100000);
    QTest::newRow("3 digits") << QStringLiteral("2025-06-15T10:20:30.123")
                              << instantOf(2025, 6, 15, 10, 20, 30, 123000);
    QTest::newRow("6 digits") << QStringLiteral("2025-06-15T10:20:30.000001Z")
                              << instantOf(2025, 6, 15, 10, 20, 30, 1);
    QTest::newRow("9 digits truncated") << QStringLiteral("2025-06-15T10:20:30.123456789")
                                        << instantOf(2025, 6, 15, 10, 20, 30, 123456);
    QTest::newRow("9 digits not rounded") << QStringLiteral("2025-06-15T10:20:30.999999999Z")
                                          << instantOf(2025, 6, 15, 10, 20, 30, 999999);
    QTest::newRow("comma") << QStringLiteral("2025-06-15T10:20:30,5")
                           << instantOf(2025, 6, 15, 10, 20, 30, 500000);
    QTest::newRow("comma with offset") << QStringLiteral("2025-06-15T10:20:30,25+01:00")
                                       << instantOf(2025, 6, 15, 9, 20, 30, 250000);

    // Offsets: the result is the UTC instant.
    QTest::newRow("+05:00") << QStringLiteral("2025-01-01T00:00:00+05:00")
                            << qint64(1735671600000000);
    QTest::newRow("+05:00 via QDateTime")
        << QStringLiteral("2025-01-01T00:00:00+05:00") << instantOf(2024, 12, 31, 19);
    QTest::newRow("-03:30") << QStringLiteral("2025-01-01T12:00:00-03:30")
                            << instantOf(2025, 1, 1, 15, 30);
    QTest::newRow("+0530") << QStringLiteral("2025-01-01T12:00:00+0530")
                           << instantOf(2025, 1, 1, 6, 30);
    QTest::newRow("+05") << QStringLiteral("2025-01-01T12:00:00+05") << instantOf(2025, 1, 1, 7);
    QTest::newRow("-00:00") << QStringLiteral("2025-01-01T12:00:00-00:00")
                            << instantOf(2025, 1, 1, 12);
    QTest::newRow("+HH:MM:SS") << QStringLiteral("2025-01-01T12:00:00+05:30:15")
                               << instantOf(2025, 1, 1, 6, 29, 45);
    QTest::newRow("+HH:MM:SS.ffffff") << QStringLiteral("2025-01-01T12:00:00+05:30:15.5")
                                      << instantOf(2025, 1, 1, 6, 29, 44, 500000);
    QTest::newRow("-HH:MM:SS.ffffff") << QStringLiteral("2025-01-01T12:00:00-05:30:15.5")
                                      << instantOf(2025, 1, 1, 17, 30, 15, 500000);
    QTest::newRow("+23:59") << QStringLiteral("2025-01-01T12:00:00+23:59")
                            << instantOf(2024, 12, 31, 12, 1);
    QTest::newRow("-23:59:59.999999") << QStringLiteral("2025-01-01T12:00:00-23:59:59.999999")
                                      << instantOf(2025, 1, 2, 11, 59, 59, 999999);
    QTest::newRow("offset crosses year")
        << QStringLiteral("2024-12-31T23:30:00-01:00") << instantOf(2025, 1, 1, 0, 30);
    QTest::newRow("basic everything")
        << QStringLiteral("20250101T120000.5+0100") << instantOf(2025, 1, 1, 11, 0, 0, 500000);

    // ISO week dates.
    QTest::newRow("week date") << QStringLiteral("2025-W01-3") << instantOf(2025, 1, 1);
    QTest::newRow("week date basic") << QStringLiteral("2025W013") << instantOf(2025, 1, 1);
    QTest::newRow("week without day") << QStringLiteral("2025-W01") << instantOf(2024, 12, 30);
    QTest::newRow("week without day basic") << QStringLiteral("2025W01") << instantOf(2024, 12, 30);
    QTest::newRow("week date with time")
        << QStringLiteral("2025-W01-3T10:20:30Z") << instantOf(2025, 1, 1, 10, 20, 30);
    QTest::newRow("basic week date with time")
        << QStringLiteral("2025W013T102030") << instantOf(2025, 1, 1, 10, 20, 30);
    QTest::newRow("basic week with time")
        << QStringLiteral("2025W01T10") << instantOf(2024, 12, 30, 10);
    QTest::newRow("week 53 (Thursday year)")
        << QStringLiteral("2026-W53-7") << instantOf(2027, 1, 3);
    QTest::newRow("week 53 (leap Wednesday year)")
        << QStringLiteral("2020-W53-7") << instantOf(2021, 1, 3);
    QTest::newRow("first week of year 1") << QStringLiteral("0001-W01-1") << instantOf(1, 1, 1);
    QTest::newRow("last week date") << QStringLiteral("9999-W52-5") << instantOf(9999, 12, 31);

    // Calendar edges.
    QTest::newRow("leap day 2024") << QStringLiteral("2024-02-29") << instantOf(2024, 2, 29);
    QTest::newRow("leap day 2000")
        << QStringLiteral("2000-02-29T12:00:00") << instantOf(2000, 2, 29, 12);
    QTest::newRow("day 31") << QStringLiteral("2025-12-31T23:59:59")
                            << instantOf(2025, 12, 31, 23, 59, 59);
    QTest::newRow("year 1") << QStringLiteral("0001-01-01T00:00:00") << qint64(-62135596800000000);
    QTest::newRow("year 9999") << QStringLiteral("9999-12-31T23:59:59.999999")
                               << qint64(253402300799999999);
    QTest::newRow("offset ending at the last instant")
        << QStringLiteral("9999-12-31T22:59:59.999999-01:00") << qint64(253402300799999999);
    QTest::newRow("offset ending at the first instant")
        << QStringLiteral("0001-01-01T01:00:00+01:00") << qint64(-62135596800000000);
    QTest::newRow("just before epoch")
        << QStringLiteral("1969-12-31T23:59:59.999999Z") << qint64(-1);
    QTest::newRow("1900") << QStringLiteral("1900-03-01") << instantOf(1900, 3, 1);
}

namespace {

// Text that Latin-1 can hold parses from its Latin-1 bytes (a request body's) exactly as
// from UTF-16.
void sameFromLatin1(const QString &text, const std::optional<Instant> &fromUtf16)
{
    for (const QChar c : text) {
        if (c.unicode() > 0xff)
            return;
    }
    const QByteArray latin1 = text.toLatin1();
    QCOMPARE(agmem::parseIsoTimestamp(QLatin1String(latin1)), fromUtf16);
}

} // namespace

void TstTimestamp::parsesAccepted()
{
    QFETCH(QString, text);
    QFETCH(qint64, expected);
    const std::optional<Instant> parsed = agmem::parseIsoTimestamp(text);
    QVERIFY2(parsed.has_value(), qPrintable(text));
    QCOMPARE(*parsed, expected);
    sameFromLatin1(text, parsed);
}

void TstTimestamp::rejects_data()
{
    QTest::addColumn<QString>("text");

    QTest::newRow("empty") << QString();
    QTest::newRow("yesterday") << QStringLiteral("yesterday");
    QTest::newRow("month 13") << QStringLiteral("2025-13-01");
    QTest::newRow("month 0") << QStringLiteral("2025-00-10");
    QTest::newRow("day 0") << QStringLiteral("2025-01-00");
    QTest::newRow("Feb 30") << QStringLiteral("2025-02-30");
    QTest::newRow("Feb 29, not leap") << QStringLiteral("2025-02-29");
    QTest::newRow("Feb 29, 1900") << QStringLiteral("1900-02-29");
    QTest::newRow("Apr 31") << QStringLiteral("2025-04-31");
    QTest::newRow("year 0") << QStringLiteral("0000-01-01");
    QTest::newRow("hour 25") << QStringLiteral("2025-01-01T25:00:00");
    QTest::newRow("hour 24") << QStringLiteral("2025-01-01T24:00:00");
    QTest::newRow("minute 60") << QStringLiteral("2025-01-01T00:60");
    QTest::newRow("second 60") << QStringLiteral("2025-01-01T00:00:60");
    QTest::newRow("offset +24:00") << QStringLiteral("2025-01-01T00:00:00+24:00");
    QTest::newRow("offset -24:00") << QStringLiteral("2025-01-01T00:00:00-24:00");
    QTest::newRow("offset +30") << QStringLiteral("2025-01-01T00:00:00+30");
    QTest::newRow("offset one digit") << QStringLiteral("2025-01-01T00:00+5");
    QTest::newRow("offset +HH:M") << QStringLiteral("2025-01-01T00:00+05:3");
    QTest::newRow("offset sign only") << QStringLiteral("2025-01-01T00:00+");
    QTest::newRow("offset then junk") << QStringLiteral("2025-01-01T00:00:00+05:00junk");
    QTest::newRow("two offsets") << QStringLiteral("2025-01-01T00:00:00Z+05:00");
    QTest::newRow("two Zs") << QStringLiteral("2025-01-01T00:00:00ZZ");
    QTest::newRow("trailing junk") << QStringLiteral("2025-01-01T00:00:00 junk");
    QTest::newRow("trailing space") << QStringLiteral("2025-01-01T00:00:00 ");
    QTest::newRow("date then separator only") << QStringLiteral("2025-01-01T");
    QTest::newRow("date then space") << QStringLiteral("2025-01-01 ");
    QTest::newRow("leading space") << QStringLiteral(" 2025-01-01");
    QTest::newRow("slashes") << QStringLiteral("2025/01/01");
    QTest::newRow("one-digit month") << QStringLiteral("2025-1-01");
    QTest::newRow("one-digit day") << QStringLiteral("2025-01-1");
    QTest::newRow("year-month only") << QStringLiteral("2025-01");
    QTest::newRow("mixed date separators") << QStringLiteral("2025-0101");
    QTest::newRow("mixed date separators 2") << QStringLiteral("202501-01");
    QTest::newRow("ordinal date") << QStringLiteral("2025-001");
    QTest::newRow("one-digit hour") << QStringLiteral("2025-01-01T1");
    QTest::newRow("one-digit minute") << QStringLiteral("2025-01-01T10:2");
    QTest::newRow("mixed time separators") << QStringLiteral("2025-01-01T10:2030");
    QTest::newRow("dot without digits") << QStringLiteral("2025-01-01T10:20:30.");
    QTest::newRow("fraction with junk") << QStringLiteral("2025-01-01T10:20:30.123x");
    QTest::newRow("long fraction with junk") << QStringLiteral("2025-01-01T10:20:30.1234567x");
    QTest::newRow("time only") << QStringLiteral("10:20:30");
    QTest::newRow("week 0") << QStringLiteral("2025-W00-1");
    QTest::newRow("week 53 in 52-week year") << QStringLiteral("2025-W53");
    QTest::newRow("week 54") << QStringLiteral("2026-W54");
    QTest::newRow("weekday 0") << QStringLiteral("2025-W01-0");
    QTest::newRow("weekday 8") << QStringLiteral("2025-W01-8");
    QTest::newRow("week date in year 10000") << QStringLiteral("9999-W52-6");
    QTest::newRow("week date of year 0") << QStringLiteral("0000-W01-1");
    QTest::newRow("week dangling dash") << QStringLiteral("2025-W01-");
    // CPython accepts these (the offset is applied later); their UTC instant leaves years
    // 1..9999, which the coordinator would store and Python clients could not read back.
    QTest::newRow("UTC instant before year 1") << QStringLiteral("0001-01-01T00:00:00+01:00");
    QTest::newRow("UTC instant after year 9999") << QStringLiteral("9999-12-31T23:00:00-01:30");
    QTest::newRow("UTC instant in year 10000") << QStringLiteral("9999-12-31T23:59:59-23:59");
    QTest::newRow("week date, UTC instant in year 10000")
        << QStringLiteral("9999-W52-5T23:59:59-00:01");
    QTest::newRow("fullwidth digits")
        << QStringLiteral(u"\uFF12\uFF10\uFF12\uFF15-01-01"); // Python's int() would take them
    QTest::newRow("lone surrogate in date") << QString(QStringLiteral("2025-01-0") + QChar(0xD800));
    QTest::newRow("lone surrogate in time")
        << QString(QStringLiteral("2025-01-01T10:2") + QChar(0xDC00));
    QTest::newRow("two lone surrogates") << QString(QStringLiteral("2025-01-01") + QChar(0xD800) +
                                                    QStringLiteral("10:00") + QChar(0xD800));
    QTest::newRow("unicode minus offset") << QStringLiteral(u"2025-01-01T10:00\u221205:00");
    QTest::newRow("non-ASCII after hour with offset")
        << QStringLiteral(u"2025-01-01T10\u00e9+05:00");
}

void TstTimestamp::rejects()
{
    QFETCH(QString, text);
    const std::optional<Instant> parsed = agmem::parseIsoTimestamp(text);
    QVERIFY2(!parsed.has_value(), qPrintable(QStringLiteral("accepted as %1").arg(*parsed)));
    sameFromLatin1(text, parsed);
}

// Oddities of CPython 3.11's C parser that the reference server therefore accepted; each was
// checked with python3.11 -c 'datetime.fromisoformat(...)'. Kept so clients keep working.
void TstTimestamp::pythonQuirks_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("expected");

    QTest::newRow("non-ASCII separator")
        << QStringLiteral(u"2025-01-01\u00e912:00") << instantOf(2025, 1, 1, 12);
    QTest::newRow("astral separator") << QStringLiteral(u"2025-01-01\U0001F600"
                                                        u"12:00")
                                      << instantOf(2025, 1, 1, 12);
    QTest::newRow("lone surrogate separator")
        << QString(QStringLiteral("2025-01-01") + QChar(0xD800) + QStringLiteral("12:00"))
        << instantOf(2025, 1, 1, 12);
    QTest::newRow("digit separator")
        << QStringLiteral("2025-01-01112:00") << instantOf(2025, 1, 1, 12);
    QTest::newRow("dash separator after week")
        << QStringLiteral("2025-W01-1234") << instantOf(2024, 12, 30, 12, 34);
    QTest::newRow("colon before fraction")
        << QStringLiteral("2025-01-01T12:34:56:789") << instantOf(2025, 1, 1, 12, 34, 56, 789000);
    QTest::newRow("basic fraction without mark")
        << QStringLiteral("20250101T123456789") << instantOf(2025, 1, 1, 12, 34, 56, 789000);
    QTest::newRow("dangling colon before offset")
        << QStringLiteral("2025-01-01T12:+05:00") << instantOf(2025, 1, 1, 7);
    QTest::newRow("empty fraction before offset")
        << QStringLiteral("2025-01-01T12:34:56.+05:00") << instantOf(2025, 1, 1, 7, 34, 56);
    QTest::newRow("junk after long fraction before offset")
        << QStringLiteral("2025-01-01T12:00:00.1234567x+05:00")
        << instantOf(2025, 1, 1, 7, 0, 0, 123456);
    QTest::newRow("NUL after long fraction")
        << QString(QStringLiteral("2025-01-01T12:00:00.1234567") + QChar(u'\0') +
                   QStringLiteral("junk"))
        << instantOf(2025, 1, 1, 12, 0, 0, 123456);
    QTest::newRow("offset minutes not checked")
        << QStringLiteral("2025-01-01T12:00+05:99") << instantOf(2025, 1, 1, 5, 21);
    QTest::newRow("sub-second zero offset is UTC")
        << QStringLiteral("2025-01-01T12:00+00:00:00.5") << instantOf(2025, 1, 1, 12);
}

void TstTimestamp::pythonQuirks()
{
    parsesAccepted();
}

void TstTimestamp::formats_data()
{
    QTest::addColumn<qint64>("instant");
    QTest::addColumn<QString>("expected");

    QTest::newRow("client form") << qint64(1795771775164165)
                                 << QStringLiteral("2026-11-27T09:29:35.164165+00:00");
    QTest::newRow("no fraction") << qint64(1795771775000000)
                                 << QStringLiteral("2026-11-27T09:29:35+00:00");
    QTest::newRow("epoch") << qint64(0) << QStringLiteral("1970-01-01T00:00:00+00:00");
    QTest::newRow("one microsecond")
        << qint64(1) << QStringLiteral("1970-01-01T00:00:00.000001+00:00");
    QTest::newRow("one millisecond")
        << qint64(1000) << QStringLiteral("1970-01-01T00:00:00.001000+00:00");
    QTest::newRow("minus one microsecond")
        << qint64(-1) << QStringLiteral("1969-12-31T23:59:59.999999+00:00");
    QTest::newRow("minus one second")
        << qint64(-1000000) << QStringLiteral("1969-12-31T23:59:59+00:00");
    QTest::newRow("minus one day")
        << qint64(-86400000000) << QStringLiteral("1969-12-31T00:00:00+00:00");
    QTest::newRow("leap day") << instantOf(2024, 2, 29, 23, 59, 59, 500000)
                              << QStringLiteral("2024-02-29T23:59:59.500000+00:00");
    QTest::newRow("year 1") << qint64(-62135596800000000)
                            << QStringLiteral("0001-01-01T00:00:00+00:00");
    QTest::newRow("year 999") << instantOf(999, 7, 4, 1, 2, 3, 40)
                              << QStringLiteral("0999-07-04T01:02:03.000040+00:00");
    QTest::newRow("year 9999") << qint64(253402300799999999)
                               << QStringLiteral("9999-12-31T23:59:59.999999+00:00");
    // Beyond what a client can send (the export and old stores only): as the formatter
    // before the char-buffer one printed them.
    QTest::newRow("year 0") << qint64(-62135596800000001)
                            << QStringLiteral("0000-12-31T23:59:59.999999+00:00");
    QTest::newRow("year 10000") << qint64(253402300800000000)
                                << QStringLiteral("10000-01-01T00:00:00+00:00");
    QTest::newRow("smallest instant") << std::numeric_limits<qint64>::min()
                                      << QStringLiteral("-290308-12-21T19:59:05.224192+00:00");
    QTest::newRow("largest instant") << std::numeric_limits<qint64>::max()
                                     << QStringLiteral("294247-01-10T04:00:54.775807+00:00");
}

void TstTimestamp::formats()
{
    QFETCH(qint64, instant);
    QFETCH(QString, expected);
    QCOMPARE(agmem::formatIsoTimestamp(instant), expected);

    // The char-buffer form: the same text, within its bound, nothing written beyond it.
    char buffer[agmem::IsoTimestampMaxSize + 8];
    std::fill(std::begin(buffer), std::end(buffer), '#');
    const int size = agmem::formatIsoTimestamp(instant, buffer);
    QVERIFY(size <= agmem::IsoTimestampMaxSize);
    QCOMPARE(QString::fromLatin1(buffer, size), expected);
    QVERIFY(std::all_of(buffer + size, std::end(buffer), [](char c) { return c == '#'; }));
}

void TstTimestamp::roundTrips_data()
{
    QTest::addColumn<qint64>("instant");

    QTest::newRow("epoch") << qint64(0);
    QTest::newRow("client") << qint64(1795771775164165);
    QTest::newRow("-1") << qint64(-1);
    QTest::newRow("-999999") << qint64(-999999);
    QTest::newRow("-1000001") << qint64(-1000001);
    QTest::newRow("1") << qint64(1);
    QTest::newRow("first instant") << instantOf(1, 1, 1);
    QTest::newRow("last instant") << instantOf(9999, 12, 31, 23, 59, 59, 999999);
    QTest::newRow("1600 leap day") << instantOf(1600, 2, 29, 12, 0, 0, 1);
    QTest::newRow("1899 end") << instantOf(1899, 12, 31, 23, 59, 59, 999999);
}

void TstTimestamp::roundTrips()
{
    QFETCH(qint64, instant);
    const QString text = agmem::formatIsoTimestamp(instant);
    const std::optional<Instant> parsed = agmem::parseIsoTimestamp(text);
    QVERIFY2(parsed.has_value(), qPrintable(text));
    QCOMPARE(*parsed, instant);
    QCOMPARE(agmem::formatIsoTimestamp(*parsed), text);
}

void TstTimestamp::roundTripsAcrossAllYears()
{
    const Instant first = instantOf(1, 1, 1);
    const Instant last = instantOf(9999, 12, 31, 23, 59, 59, 999999);
    QRandomGenerator random(20251127); // fixed seed: reproducible
    for (int i = 0; i < 20000; ++i) {
        Instant instant = random.bounded(first, last + 1);
        if (i % 4 == 0)
            instant -= instant % 1000000; // also exercise the form without a fraction
        const QString text = agmem::formatIsoTimestamp(instant);
        const std::optional<Instant> parsed = agmem::parseIsoTimestamp(text);
        QVERIFY2(parsed.has_value(), qPrintable(text));
        QCOMPARE(*parsed, instant);

        // Check the formatted fields against QDateTime, independently of our calendar code.
        const QDateTime utc =
            QDateTime::fromMSecsSinceEpoch(floorDiv(instant, 1000), QTimeZone::utc());
        QCOMPARE(text.left(4).toInt(), utc.date().year());
        QCOMPARE(text.mid(5, 2).toInt(), utc.date().month());
        QCOMPARE(text.mid(8, 2).toInt(), utc.date().day());
        QCOMPARE(text.mid(11, 2).toInt(), utc.time().hour());
        QCOMPARE(text.mid(14, 2).toInt(), utc.time().minute());
        QCOMPARE(text.mid(17, 2).toInt(), utc.time().second());
        const qint64 micros = instant - floorDiv(instant, 1000000) * 1000000;
        QCOMPARE(text.size(), micros == 0 ? 25 : 32);
        if (micros != 0)
            QCOMPARE(text.mid(20, 6).toLongLong(), micros);
        QVERIFY(text.endsWith(QStringLiteral("+00:00")));
    }
}

void TstTimestamp::nowIsCurrent()
{
    const qint64 before = QDateTime::currentMSecsSinceEpoch() * 1000;
    const Instant now = agmem::nowInstant();
    const qint64 after = QDateTime::currentMSecsSinceEpoch() * 1000;
    QVERIFY(now >= before);
    QVERIFY(now <= after);
}

QTEST_APPLESS_MAIN(TstTimestamp)
#include "tst_timestamp.moc"
