// API keys: format, randomness, hashing, constant-time comparison, and scope lists.
#include "core/apikey.h"

#include <QCryptographicHash>
#include <QSet>
#include <QStandardPaths>
#include <QtTest>

#include <optional>

using namespace Qt::StringLiterals;
using agmem::Scope;

Q_DECLARE_METATYPE(std::optional<unsigned>)

class TstApiKey : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void keyFormat();
    void keysAreUnique();
    void keysUseEveryBit();
    void hash();
    void displayPrefix();
    void looksLikeKey_data();
    void looksLikeKey();
    void constantTimeEquals_data();
    void constantTimeEquals();
    void parseScopes_data();
    void parseScopes();
    void scopesToString_data();
    void scopesToString();
    void scopeRoundTrip();
    void hasScope();
};

void TstApiKey::keyFormat()
{
    const QString key = agmem::ApiKey::generate();
    QVERIFY(key.startsWith(u"agm_"));
    // 256 bits in base64url without padding: 43 characters.
    QCOMPARE(key.size(), 4 + 43);
    const QString body = key.mid(4);
    for (const QChar c : body) {
        const bool urlSafe = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') ||
                             (c >= u'0' && c <= u'9') || c == u'-' || c == u'_';
        QVERIFY2(urlSafe, qPrintable(key)); // fits a URL path segment and a header as is
    }
    const QByteArray raw = QByteArray::fromBase64(body.toLatin1(), QByteArray::Base64UrlEncoding);
    QCOMPARE(raw.size(), 32);
    QVERIFY(agmem::ApiKey::looksLikeKey(key));
}

void TstApiKey::keysAreUnique()
{
    QSet<QString> keys;
    for (int i = 0; i < 2000; ++i)
        keys.insert(agmem::ApiKey::generate());
    QCOMPARE(keys.size(), 2000);
}

// Every byte of the 32 takes many values over a few hundred keys: no constant or zeroed
// region (a fill of only part of the buffer would show up here).
void TstApiKey::keysUseEveryBit()
{
    QList<QSet<char>> seen(32);
    for (int i = 0; i < 300; ++i) {
        const QByteArray raw = QByteArray::fromBase64(agmem::ApiKey::generate().mid(4).toLatin1(),
                                                      QByteArray::Base64UrlEncoding);
        QCOMPARE(raw.size(), 32);
        for (int b = 0; b < 32; ++b)
            seen[b].insert(raw.at(b));
    }
    for (int b = 0; b < 32; ++b)
        QVERIFY2(seen[b].size() > 100, qPrintable(u"byte %1"_s.arg(b)));
}

void TstApiKey::hash()
{
    const QString key = agmem::ApiKey::generate();
    const QByteArray h = agmem::ApiKey::hash(key);
    QCOMPARE(h.size(), 64);
    QCOMPARE(h, QCryptographicHash::hash(key.toUtf8(), QCryptographicHash::Sha256).toHex());
    QCOMPARE(agmem::ApiKey::hash(key), h);
    QVERIFY(agmem::ApiKey::hash(agmem::ApiKey::generate()) != h);
    QVERIFY(!h.contains(key.mid(4).toLatin1().left(8)));
    // Known vector: SHA-256("agm_test").
    QCOMPARE(agmem::ApiKey::hash(u"agm_test"),
             QCryptographicHash::hash("agm_test", QCryptographicHash::Sha256).toHex());
}

void TstApiKey::displayPrefix()
{
    const QString key = u"agm_abcdefghijklmnop"_s;
    const QString shown = agmem::ApiKey::displayPrefix(key);
    QVERIFY(shown.startsWith(u"agm_abcdef"));
    QVERIFY(!shown.contains(u"ghij"));
    // Shows only a small part of a real key.
    const QString real = agmem::ApiKey::generate();
    QVERIFY(agmem::ApiKey::displayPrefix(real).size() <= 11);
    QVERIFY(real.startsWith(agmem::ApiKey::displayPrefix(real).chopped(1)));
}

void TstApiKey::looksLikeKey_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("expected");
    QTest::addRow("generated") << agmem::ApiKey::generate() << true;
    QTest::addRow("prefix only") << u"agm_"_s << false;
    QTest::addRow("short") << u"agm_x"_s << true;
    QTest::addRow("empty") << QString() << false;
    QTest::addRow("other prefix") << u"sk_abcdef"_s << false;
    QTest::addRow("upper-case prefix") << u"AGM_abcdef"_s << false;
}

void TstApiKey::looksLikeKey()
{
    QFETCH(QString, text);
    QFETCH(bool, expected);
    QCOMPARE(agmem::ApiKey::looksLikeKey(text), expected);
}

void TstApiKey::constantTimeEquals_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    QTest::addColumn<bool>("expected");
    const QByteArray h = agmem::ApiKey::hash(u"agm_one");
    QByteArray lastDiffers = h;
    lastDiffers[63] = lastDiffers[63] == '0' ? '1' : '0';
    QByteArray firstDiffers = h;
    firstDiffers[0] = firstDiffers[0] == '0' ? '1' : '0';
    QTest::addRow("equal") << h << QByteArray(h) << true;
    QTest::addRow("last byte differs") << h << lastDiffers << false;
    QTest::addRow("first byte differs") << h << firstDiffers << false;
    QTest::addRow("prefix") << h << h.left(63) << false;
    QTest::addRow("longer") << h << h + 'x' << false;
    QTest::addRow("both empty") << QByteArray() << QByteArray() << true;
    QTest::addRow("empty and not") << QByteArray() << h << false;
    QTest::addRow("high bit") << QByteArray("\x80") << QByteArray("\x00", 1) << false;
    QTest::addRow("other key") << h << agmem::ApiKey::hash(u"agm_two") << false;
}

void TstApiKey::constantTimeEquals()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    QFETCH(bool, expected);
    QCOMPARE(agmem::constantTimeEquals(a, b), expected);
    QCOMPARE(agmem::constantTimeEquals(b, a), expected);
}

void TstApiKey::parseScopes_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<std::optional<unsigned>>("expected");
    const auto some = [](unsigned v) { return std::optional<unsigned>(v); };
    const unsigned push = unsigned(Scope::Push), pull = unsigned(Scope::Pull),
                   admin = unsigned(Scope::Admin);
    QTest::addRow("push") << u"push"_s << some(push);
    QTest::addRow("pull") << u"pull"_s << some(pull);
    QTest::addRow("admin") << u"admin"_s << some(admin);
    QTest::addRow("push,pull") << u"push,pull"_s << some(push | pull);
    QTest::addRow("spaces and case") << u" Push , PULL "_s << some(push | pull);
    QTest::addRow("all") << u"all"_s << some(push | pull | admin);
    QTest::addRow("repeated") << u"push,push"_s << some(push);
    QTest::addRow("empty parts") << u"push,,pull,"_s << some(push | pull);
    QTest::addRow("empty") << QString() << some(0);
    QTest::addRow("unknown") << u"write"_s << std::optional<unsigned>();
    QTest::addRow("one unknown") << u"push,write"_s << std::optional<unsigned>();
    QTest::addRow("space separated") << u"push pull"_s << std::optional<unsigned>();
}

void TstApiKey::parseScopes()
{
    QFETCH(QString, text);
    QFETCH(std::optional<unsigned>, expected);
    QCOMPARE(agmem::parseScopes(text), expected);
}

void TstApiKey::scopesToString_data()
{
    QTest::addColumn<unsigned>("scopes");
    QTest::addColumn<QString>("expected");
    QTest::addRow("none") << 0u << QString();
    QTest::addRow("push") << unsigned(Scope::Push) << u"push"_s;
    QTest::addRow("pull,admin") << (Scope::Pull | Scope::Admin) << u"pull,admin"_s;
    QTest::addRow("all") << unsigned(Scope::All) << u"push,pull,admin"_s;
}

void TstApiKey::scopesToString()
{
    QFETCH(unsigned, scopes);
    QFETCH(QString, expected);
    QCOMPARE(agmem::scopesToString(scopes), expected);
}

void TstApiKey::scopeRoundTrip()
{
    for (unsigned s = 0; s <= unsigned(Scope::All); ++s)
        QCOMPARE(agmem::parseScopes(agmem::scopesToString(s)), std::optional<unsigned>(s));
}

void TstApiKey::hasScope()
{
    const unsigned pushPull = Scope::Push | Scope::Pull;
    QVERIFY(agmem::hasScope(pushPull, Scope::Push));
    QVERIFY(agmem::hasScope(pushPull, Scope::Pull));
    QVERIFY(!agmem::hasScope(pushPull, Scope::Admin));
    QVERIFY(!agmem::hasScope(pushPull, Scope::All));
    QVERIFY(agmem::hasScope(unsigned(Scope::All), Scope::Admin));
    QVERIFY(!agmem::hasScope(0, Scope::Push));
}

QTEST_APPLESS_MAIN(TstApiKey)

#include "tst_apikey.moc"
