// JsonWriter (core/jsonwriter.h): its bytes equal QJsonDocument's compact text for valid
// text, and for any text (lone surrogates too) the bytes of the writer before its fast paths
// (UTF-8 by QString::toUtf8(), then JSON's escapes), kept here as the reference.
#include "core/jsonwriter.h"
#include "core/timestamp.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QtTest>

#include <limits>

using agmem::JsonWriter;
using namespace Qt::StringLiterals;

namespace {

// The writer's string as it was before the ASCII fast path.
QByteArray reference(QStringView text)
{
    static const char hex[] = "0123456789abcdef";
    QByteArray out("\"");
    for (const char ch : text.toUtf8()) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        default:
            if (c < 0x20) {
                const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                out.append(escaped, sizeof escaped);
            } else {
                out.append(char(c));
            }
        }
    }
    return out.append('"');
}

// QJsonDocument's text of one string.
QByteArray viaQJson(const QString &text)
{
    const QByteArray array = QJsonDocument(QJsonArray{text}).toJson(QJsonDocument::Compact);
    return array.mid(1, array.size() - 2);
}

bool hasLoneSurrogate(QStringView text)
{
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (c.isHighSurrogate() && i + 1 < text.size() && text[i + 1].isLowSurrogate())
            ++i;
        else if (c.isSurrogate())
            return true;
    }
    return false;
}

QByteArray written(QStringView text)
{
    QByteArray out("prefix");
    JsonWriter::appendString(&out, text);
    // Appends: what was there stays.
    if (!out.startsWith("prefix"))
        return "prefix lost";
    return out.mid(6);
}

QString units(std::initializer_list<char16_t> list)
{
    QString s;
    for (const char16_t u : list)
        s.append(QChar(u));
    return s;
}

} // namespace

class TstJsonWriter : public QObject
{
    Q_OBJECT

private slots:
    void strings_data();
    void strings();
    void randomStrings();
    void latin1KeysAndValues_data();
    void latin1KeysAndValues();
    void integers();
    void timestamps();
    void documentMatchesQJsonDocument();
};

void TstJsonWriter::strings_data()
{
    QTest::addColumn<QString>("text");
    // Bytes where they do not depend on Qt's treatment of lone surrogates; empty otherwise.
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("empty") << QString() << "\"\""_ba;
    QTest::newRow("ascii") << u"agent-00000000000001a2"_s << "\"agent-00000000000001a2\""_ba;
    QTest::newRow("quote and backslash") << u"a\"b\\c"_s << "\"a\\\"b\\\\c\""_ba;
    QTest::newRow("short escapes") << u"\n\r\t\b\f"_s << "\"\\n\\r\\t\\b\\f\""_ba;
    QTest::newRow("controls") << units({0, 1, 0x1f, 0x7f, u'/'})
                              << "\"\\u0000\\u0001\\u001f\x7f/\""_ba;
    QTest::newRow("latin-1") << units({0x80, 0x9f, 0xa0, 0xe9, 0xff})
                             << "\"\xc2\x80\xc2\x9f\xc2\xa0\xc3\xa9\xc3\xbf\""_ba;
    QTest::newRow("bmp")
        << units({0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff, 0xe000})
        << "\"\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf\xef\xbf\xbe\xef\xbf\xbf\xee\x80\x80\""_ba;
    QTest::newRow("surrogate pair") << u"\U0001F600\""_s << "\"\xf0\x9f\x98\x80\\\"\""_ba;
    QTest::newRow("ascii then non-ascii") << u"fact \u00e9\n"_s << "\"fact \xc3\xa9\\n\""_ba;
    QTest::newRow("lone high") << units({u'a', 0xd800, u'b'}) << QByteArray();
    QTest::newRow("lone low") << units({u'a', 0xdc00}) << QByteArray();
    QTest::newRow("high at end") << units({u'"', 0xd83d}) << QByteArray();
    QTest::newRow("reversed pair") << units({0xdc00, 0xd800, u'x'}) << QByteArray();
    QTest::newRow("all escapes mixed")
        << units({u'\n', 0xe9, u'\\', u'"', 0xd800, u'A', 0x01}) << QByteArray();
}

void TstJsonWriter::strings()
{
    QFETCH(QString, text);
    QFETCH(QByteArray, expected);
    const QByteArray out = written(text);
    QCOMPARE(out, reference(text));
    if (!expected.isEmpty())
        QCOMPARE(out, expected);
    if (!hasLoneSurrogate(text))
        QCOMPARE(out, viaQJson(text));
}

void TstJsonWriter::randomStrings()
{
    // Mostly ASCII with some of every kind of unit, surrogates alone and in pairs.
    static const char16_t odd[] = {0,      1,      0x1f,   0x7f,   0x80,   0xe9,   0x7ff,
                                   0x800,  0x2028, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff,
                                   0xe000, 0xfeff, 0xffff, u'"',   u'\\',  u'\n',  u'\t'};
    QRandomGenerator rng(20261130); // fixed seed: reproducible
    for (int i = 0; i < 20000; ++i) {
        QString text;
        const int size = int(rng.bounded(24));
        for (int j = 0; j < size; ++j) {
            const quint32 pick = rng.bounded(100);
            if (pick < 70)
                text.append(QChar(char16_t(0x20 + rng.bounded(0x5f))));
            else if (pick < 80)
                text.append(QChar::fromUcs4(0x10000 + rng.bounded(0x100000)));
            else
                text.append(QChar(odd[rng.bounded(int(std::size(odd)))]));
        }
        const QByteArray out = written(text);
        QVERIFY2(out == reference(text),
                 qPrintable(u"at %1: %2"_s.arg(i).arg(QString::fromLatin1(out.toHex()))));
        if (!hasLoneSurrogate(text))
            QVERIFY2(out == viaQJson(text), qPrintable(u"at %1"_s.arg(i)));
    }
}

void TstJsonWriter::latin1KeysAndValues_data()
{
    QTest::addColumn<QByteArray>("latin1");
    QTest::newRow("plain") << "facts_added_count"_ba;
    QTest::newRow("empty") << ""_ba;
    QTest::newRow("escapes") << "k\"\\\n\x01"_ba;
    QTest::newRow("latin-1") << "k\xe9y\xff"_ba;
}

void TstJsonWriter::latin1KeysAndValues()
{
    QFETCH(QByteArray, latin1);
    const QString text = QString::fromLatin1(latin1);
    QByteArray out;
    JsonWriter w(&out);
    w.beginObject();
    w.key(latin1.constData());
    w.value(latin1.constData());
    w.key("second");
    w.value(static_cast<const char *>(nullptr));
    w.endObject();
    QCOMPARE(out, "{" + reference(text) + ":" + reference(text) + ",\"second\":\"\"}");
    QCOMPARE(out, QJsonDocument(QJsonObject{{text, text}, {u"second"_s, u""_s}})
                      .toJson(QJsonDocument::Compact));
}

void TstJsonWriter::integers()
{
    QList<qint64> numbers = {0,
                             1,
                             -1,
                             9,
                             10,
                             -10,
                             std::numeric_limits<qint64>::max(),
                             std::numeric_limits<qint64>::min(),
                             std::numeric_limits<qint64>::min() + 1};
    QRandomGenerator rng(7);
    for (int i = 0; i < 1000; ++i)
        numbers.append(qint64(rng.generate64()) >> rng.bounded(64));
    for (const qint64 n : std::as_const(numbers)) {
        QByteArray out;
        JsonWriter w(&out);
        w.beginArray();
        w.value(n);
        w.value(n);
        w.endArray();
        const QByteArray digits = QByteArray::number(n);
        QCOMPARE(out, "[" + digits + "," + digits + "]");
    }
}

void TstJsonWriter::timestamps()
{
    QRandomGenerator rng(11);
    QList<agmem::Instant> instants = {0,
                                      1,
                                      -1,
                                      1795771775164165,
                                      1795771775000000,
                                      std::numeric_limits<qint64>::min(),
                                      std::numeric_limits<qint64>::max()};
    for (int i = 0; i < 1000; ++i)
        instants.append(agmem::Instant(rng.generate64()) >> rng.bounded(64));
    for (const agmem::Instant t : std::as_const(instants)) {
        const QString text = agmem::formatIsoTimestamp(t);
        QByteArray direct("x");
        JsonWriter::appendTimestamp(&direct, t);
        QCOMPARE(direct, "x" + reference(text));
        QByteArray out;
        JsonWriter w(&out);
        w.beginObject();
        w.key("again");
        w.timestamp(t);
        w.key("at");
        w.timestamp(t);
        w.endObject();
        QCOMPARE(out, QJsonDocument(QJsonObject{{u"again"_s, text}, {u"at"_s, text}})
                          .toJson(QJsonDocument::Compact));
    }
}

void TstJsonWriter::documentMatchesQJsonDocument()
{
    // Keys written in QJsonObject's (sorted) order: the same text as QJsonDocument's.
    QByteArray out;
    JsonWriter w(&out);
    w.beginObject();
    w.key("a");
    w.beginArray();
    w.value(u"x\u00e9"_s);
    w.beginObject();
    w.endObject();
    w.beginArray();
    w.endArray();
    w.null();
    w.value(true);
    w.value(false);
    w.value(qint64(-5));
    w.endArray();
    w.key(u"b\U0001F600"_s);
    w.raw(R"({"n":1})"_ba);
    w.key("c");
    w.value("d");
    w.endObject();
    const QJsonObject expected{{u"a"_s, QJsonArray{u"x\u00e9"_s, QJsonObject(), QJsonArray(),
                                                   QJsonValue(), true, false, -5}},
                               {u"b\U0001F600"_s, QJsonObject{{u"n"_s, 1}}},
                               {u"c"_s, u"d"_s}};
    QCOMPARE(out, QJsonDocument(expected).toJson(QJsonDocument::Compact));
}

QTEST_GUILESS_MAIN(TstJsonWriter)
#include "tst_jsonwriter.moc"
