#include "core/mergeengine.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSet>
#include <QStandardPaths>
#include <QTimeZone>
#include <QtTest>

#include <limits>
#include <map>
#include <set>

using namespace Qt::StringLiterals;
using agmem::CodePointLess;
using agmem::Contribution;
using agmem::Instant;
using agmem::MergeEngine;
using agmem::MergeMode;
using agmem::Summary;

Q_DECLARE_METATYPE(agmem::MergeMode)
Q_DECLARE_METATYPE(agmem::Summary)

namespace {

using Topics = QList<QPair<QString, qint64>>;
using TopicTotalPair = std::pair<qint64, int>; // total, holders

constexpr qint64 Int64Max = std::numeric_limits<qint64>::max();

Instant utcInstant(int year, int month, int day, int hour = 0, int minute = 0, int second = 0,
                   int microsecond = 0)
{
    const QDateTime dt(QDate(year, month, day), QTime(hour, minute, second), QTimeZone::utc());
    return dt.toMSecsSinceEpoch() * 1000 + microsecond;
}

const Instant T0 = utcInstant(2025, 1, 1);
Instant at(int seconds)
{
    return T0 + qint64(seconds) * 1000000;
}

Summary summary(const QString &agent, Instant timestamp, const Topics &topics,
                const QStringList &facts = {})
{
    Summary s;
    s.agentId = agent;
    s.timestamp = timestamp;
    s.topicCounts = topics;
    s.factHashes = facts;
    return s;
}

// What the store does with a push: plan it, and apply it unless it overflows. The sequence
// moves only when the merged view changes, so pullJson() can be compared before and after.
MergeEngine::Plan push(MergeEngine &engine, const Summary &s, Instant receivedAt = 0)
{
    const MergeEngine::Plan plan = engine.plan(s);
    if (!plan.overflows()) {
        const quint64 sequence = engine.sequence() + (plan.changesMerge() ? 1 : 0);
        engine.apply(s.agentId, plan.next, receivedAt ? receivedAt : s.timestamp, sequence);
        engine.setSequence(sequence);
    }
    return plan;
}

// "topic=total/holders", in code-point order (the engine's own containers are hashed).
QStringList totals(const MergeEngine &engine)
{
    std::map<QString, agmem::TopicTotal, CodePointLess> sorted(engine.topicTotals().begin(),
                                                               engine.topicTotals().end());
    QStringList out;
    for (const auto &[topic, total] : sorted)
        out << u"%1=%2/%3"_s.arg(topic).arg(total.total).arg(total.holders);
    return out;
}

// "fact=holders", in code-point order.
QStringList facts(const MergeEngine &engine)
{
    std::map<QString, qint64, CodePointLess> sorted(engine.factHolders().begin(),
                                                    engine.factHolders().end());
    QStringList out;
    for (const auto &[fact, holders] : sorted)
        out << u"%1=%2"_s.arg(fact).arg(holders);
    return out;
}

QByteArray utf8(const QString &s)
{
    return s.toUtf8();
}

// A reference ordering: compare the UCS-4 code points lexicographically.
bool ucs4Less(const QString &a, const QString &b)
{
    const QList<uint> ua = a.toUcs4();
    const QList<uint> ub = b.toUcs4();
    return std::lexicographical_compare(ua.begin(), ua.end(), ub.begin(), ub.end());
}

} // namespace

class TstMergeEngine : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();

    void modeNames();
    void contributionIsSorted();
    void shortKeysHashAsTheyCompare();
    void latestNewerWins();
    void latestEqualTimestampLaterArrivalWins();
    void latestOlderPushChangesNothing();
    void latestIdenticalRepeatChangesNothing();
    void cumulativeSums();
    void cumulativeRepeatedPushCountedTwice();
    void totalsAcrossAgents();
    void removeAgentAndClear();
    void overflow_data();
    void overflow();
    void lastUpdatedIsMaxInstant();
    void pullJsonExactBytes();
    void pullJsonEmpty_data();
    void pullJsonEmpty();
    void pullJsonFollowsChanges();
    void codePointLess_data();
    void codePointLess();
    void codePointLessMatchesUcs4();
    void sortByCodePointMatchesCodePointLess();
    void randomizedMatchesNaiveModel_data();
    void randomizedMatchesNaiveModel();
    void replacedContributionMatchesRebuilt_data();
    void replacedContributionMatchesRebuilt();
};

void TstMergeEngine::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
}

void TstMergeEngine::modeNames()
{
    QCOMPARE(agmem::mergeModeName(MergeMode::Latest), u"latest"_s);
    QCOMPARE(agmem::mergeModeName(MergeMode::Cumulative), u"cumulative"_s);
    QCOMPARE(agmem::mergeModeFromName(u"latest"), std::optional(MergeMode::Latest));
    QCOMPARE(agmem::mergeModeFromName(u"cumulative"), std::optional(MergeMode::Cumulative));
    QVERIFY(!agmem::mergeModeFromName(u"Latest"));
    QVERIFY(!agmem::mergeModeFromName(u""));
    QCOMPARE(MergeEngine().mode(), MergeMode::Latest);
}

void TstMergeEngine::contributionIsSorted()
{
    const Contribution c = MergeEngine::contributionOf(
        summary(u"a"_s, at(5), {{u"\U0001F600"_s, 1}, {u"b"_s, 2}, {u"\uFFFD"_s, 3}, {u"a"_s, 4}},
                {u"\U0001F600"_s, u"z"_s, u"\uFFFD"_s, u"A"_s}));
    QCOMPARE(c.timestamp, at(5));
    const Topics topics{{u"a"_s, 4}, {u"b"_s, 2}, {u"\uFFFD"_s, 3}, {u"\U0001F600"_s, 1}};
    QCOMPARE(c.topics, topics);
    QCOMPARE(c.facts, (QStringList{u"A"_s, u"z"_s, u"\uFFFD"_s, u"\U0001F600"_s}));
}

void TstMergeEngine::shortKeysHashAsTheyCompare()
{
    // Names under 8 UTF-16 units take QStringHasher's own mix: equal strings (whatever
    // their storage) hash alike, and every distinct short name is its own key.
    const agmem::QStringHasher hash;
    const QString shortName = u"python"_s;
    QCOMPARE(hash(shortName), hash(QString::fromLatin1("python")));
    QCOMPARE(hash(QStringView(u"xpythonx").mid(1, 6).toString()), hash(shortName));
    QCOMPARE(hash(QString()), hash(u""_s));
    QVERIFY(hash(u"a"_s) != hash(u"a\u0000"_s));       // the length counts, not only the units
    QVERIFY(hash(u"abcdefg"_s) != hash(u"abcdefh"_s)); // the last unit of the second word
    QVERIFY(hash(u"abcdefgh"_s) == size_t(qHash(u"abcdefgh"_s))); // 8 and more: qHash()

    MergeEngine engine;
    QStringList names{u""_s, u"ü"_s, u"\U0001F600"_s};
    for (int length = 1; length <= 9; ++length) {
        for (char16_t last : {u'a', u'b', u'\u00e9'})
            names.append(QString(length - 1, u'x') + QChar(last));
    }
    Topics topics;
    for (qsizetype i = 0; i < names.size(); ++i)
        topics.append({names.at(i), i + 1});
    push(engine, summary(u"a"_s, at(1), topics, names));
    push(engine, summary(u"b"_s, at(1), {{names.at(5), 100}}, {names.at(5)}));
    QCOMPARE(qsizetype(engine.topicTotals().size()), names.size());
    QCOMPARE(qsizetype(engine.factHolders().size()), names.size());
    for (qsizetype i = 0; i < names.size(); ++i) {
        const qint64 expected = i + 1 + (i == 5 ? 100 : 0);
        QCOMPARE(engine.topicTotals().at(names.at(i)).total, expected);
        QCOMPARE(engine.factHolders().at(names.at(i)), i == 5 ? 2 : 1);
    }
}

void TstMergeEngine::latestNewerWins()
{
    MergeEngine engine;
    QVERIFY(
        push(engine, summary(u"a"_s, at(1), {{u"x"_s, 1}, {u"y"_s, 7}}, {u"f"_s})).changesMerge());
    const MergeEngine::Plan plan = push(engine, summary(u"a"_s, at(2), {{u"x"_s, 5}}, {u"g"_s}));
    QVERIFY(plan.changesMerge());
    QVERIFY(!plan.overflows());
    QCOMPARE(plan.next->timestamp, at(2));
    QCOMPARE(totals(engine), QStringList{u"x=5/1"_s});
    QCOMPARE(facts(engine), QStringList{u"g=1"_s});
    QCOMPARE(engine.contributingAgents(), 1);
    QCOMPARE(engine.agentCount(), 1);
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, 2);
    QCOMPARE(engine.agents().value(u"a"_s).current->timestamp, at(2));
    QCOMPARE(engine.lastUpdated(), std::optional(at(2)));
}

void TstMergeEngine::latestEqualTimestampLaterArrivalWins()
{
    MergeEngine engine;
    push(engine, summary(u"a"_s, at(1), {{u"x"_s, 1}}, {u"f"_s}));
    const MergeEngine::Plan plan = push(engine, summary(u"a"_s, at(1), {{u"x"_s, 3}}, {u"g"_s}));
    QVERIFY(plan.changesMerge());
    QCOMPARE(totals(engine), QStringList{u"x=3/1"_s});
    QCOMPARE(facts(engine), QStringList{u"g=1"_s});
    QCOMPARE(engine.contributingAgents(), 1);
}

void TstMergeEngine::latestOlderPushChangesNothing()
{
    MergeEngine engine;
    push(engine, summary(u"a"_s, at(10), {{u"x"_s, 5}}, {u"f"_s}));
    push(engine, summary(u"b"_s, at(3), {{u"x"_s, 1}}));
    const QByteArray before = engine.pullJson();

    const Summary older = summary(u"a"_s, at(9), {{u"x"_s, 100}, {u"z"_s, 1}}, {u"old"_s});
    const MergeEngine::Plan plan = engine.plan(older);
    QVERIFY(!plan.changesMerge());
    QVERIFY(!plan.next);
    QVERIFY(!plan.overflows());
    engine.apply(older.agentId, plan.next, at(11), engine.sequence());

    QCOMPARE(engine.pullJson(), before);
    QCOMPARE(totals(engine), QStringList{u"x=6/2"_s});
    QCOMPARE(facts(engine), QStringList{u"f=1"_s});
    // The push is still counted for the agent; its contribution stays the newer one.
    const agmem::AgentState state = engine.agents().value(u"a"_s);
    QCOMPARE(state.pushCount, 2);
    QCOMPARE(state.current->timestamp, at(10));
    QCOMPARE(state.lastSeen, at(11));
    QCOMPARE(state.firstSeen, at(10));
}

void TstMergeEngine::latestIdenticalRepeatChangesNothing()
{
    MergeEngine engine;
    const Summary s =
        summary(u"a"_s, at(1), {{u"y"_s, 2}, {u"x"_s, 1}}, {u"g"_s, u"f"_s, u"\U0001F600"_s});
    QVERIFY(push(engine, s).changesMerge());
    const QByteArray before = engine.pullJson();

    QVERIFY(!engine.plan(s).changesMerge());
    // The same state in another order is the same summary.
    const Summary reordered =
        summary(u"a"_s, at(1), {{u"x"_s, 1}, {u"y"_s, 2}}, {u"\U0001F600"_s, u"f"_s, u"g"_s});
    QVERIFY(!engine.plan(reordered).changesMerge());
    push(engine, s);
    push(engine, reordered);
    QCOMPARE(engine.pullJson(), before);
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, 3);
    QCOMPARE(totals(engine), (QStringList{u"x=1/1"_s, u"y=2/1"_s}));

    // The same content with a newer timestamp moves last_updated, and nothing else.
    Summary newer = s;
    newer.timestamp = at(2);
    QVERIFY(push(engine, newer).changesMerge());
    QCOMPARE(engine.lastUpdated(), std::optional(at(2)));
    QCOMPARE(totals(engine), (QStringList{u"x=1/1"_s, u"y=2/1"_s}));
    QCOMPARE(engine.contributingAgents(), 1);
}

void TstMergeEngine::cumulativeSums()
{
    MergeEngine engine(MergeMode::Cumulative);
    QCOMPARE(engine.mode(), MergeMode::Cumulative);
    push(engine, summary(u"a"_s, at(5), {{u"a"_s, 1}, {u"b"_s, 2}}, {u"f"_s, u"g"_s}));
    const MergeEngine::Plan plan =
        push(engine, summary(u"a"_s, at(6), {{u"a"_s, 10}, {u"c"_s, 3}}, {u"g"_s, u"h"_s}));
    QVERIFY(plan.changesMerge());
    QCOMPARE(totals(engine), (QStringList{u"a=11/1"_s, u"b=2/1"_s, u"c=3/1"_s}));
    QCOMPARE(facts(engine), (QStringList{u"f=1"_s, u"g=1"_s, u"h=1"_s}));

    push(engine, summary(u"b"_s, at(1), {{u"a"_s, 5}}, {u"f"_s}));
    QCOMPARE(totals(engine), (QStringList{u"a=16/2"_s, u"b=2/1"_s, u"c=3/1"_s}));
    QCOMPARE(facts(engine), (QStringList{u"f=2"_s, u"g=1"_s, u"h=1"_s}));
    QCOMPARE(engine.contributingAgents(), 2);

    // An older push is summed as well; the agent's timestamp stays its newest.
    QVERIFY(push(engine, summary(u"a"_s, at(2), {{u"a"_s, 1}})).changesMerge());
    QCOMPARE(totals(engine), (QStringList{u"a=17/2"_s, u"b=2/1"_s, u"c=3/1"_s}));
    QCOMPARE(engine.agents().value(u"a"_s).current->timestamp, at(6));
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, 3);
    QCOMPARE(engine.lastUpdated(), std::optional(at(6)));

    // A push that adds nothing (zero counts, known facts, not newer) changes nothing.
    const QByteArray before = engine.pullJson();
    QVERIFY(!push(engine, summary(u"a"_s, at(6), {{u"a"_s, 0}}, {u"f"_s})).changesMerge());
    QCOMPARE(engine.pullJson(), before);
}

void TstMergeEngine::cumulativeRepeatedPushCountedTwice()
{
    MergeEngine engine(MergeMode::Cumulative);
    const Summary s = summary(u"a"_s, at(1), {{u"x"_s, 2}, {u"y"_s, 0}}, {u"f"_s});
    QVERIFY(push(engine, s).changesMerge());
    QVERIFY(push(engine, s).changesMerge());
    QCOMPARE(totals(engine), (QStringList{u"x=4/1"_s, u"y=0/1"_s}));
    QCOMPARE(facts(engine), QStringList{u"f=1"_s});
    QCOMPARE(engine.contributingAgents(), 1);
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, 2);
}

void TstMergeEngine::totalsAcrossAgents()
{
    MergeEngine engine;
    push(engine, summary(u"a"_s, at(1), {{u"t"_s, 2}}, {u"f"_s, u"g"_s}));
    push(engine, summary(u"b"_s, at(1), {{u"t"_s, 3}, {u"u"_s, 0}}, {u"f"_s}));
    push(engine, summary(u"c"_s, at(1), {{u"v"_s, 4}}));
    QCOMPARE(totals(engine), (QStringList{u"t=5/2"_s, u"u=0/1"_s, u"v=4/1"_s}));
    QCOMPARE(facts(engine), (QStringList{u"f=2"_s, u"g=1"_s}));
    QCOMPARE(engine.contributingAgents(), 3);
    // A topic with a count of 0 is listed while an agent reports it.
    QVERIFY(engine.pullJson().contains(R"("merged_topic_counts":{"t":5,"u":0,"v":4})"));

    // a drops everything: f is still held by b, g is gone.
    push(engine, summary(u"a"_s, at(2), {}));
    QCOMPARE(totals(engine), (QStringList{u"t=3/1"_s, u"u=0/1"_s, u"v=4/1"_s}));
    QCOMPARE(facts(engine), QStringList{u"f=1"_s});
    QCOMPARE(engine.contributingAgents(), 3); // an empty summary still contributes

    // b stops reporting u and f.
    push(engine, summary(u"b"_s, at(2), {{u"t"_s, 1}}));
    QCOMPARE(totals(engine), (QStringList{u"t=1/1"_s, u"v=4/1"_s}));
    QVERIFY(facts(engine).isEmpty());
    QVERIFY(engine.pullJson().contains(R"("unique_fact_hashes":[])"));

    // a picks f up again, then c takes over t with a zero count.
    push(engine, summary(u"a"_s, at(3), {{u"t"_s, 0}}, {u"f"_s}));
    push(engine, summary(u"b"_s, at(3), {}));
    QCOMPARE(totals(engine), (QStringList{u"t=0/1"_s, u"v=4/1"_s}));
    QCOMPARE(facts(engine), QStringList{u"f=1"_s});
    QVERIFY(engine.pullJson().contains(R"("merged_topic_counts":{"t":0,"v":4})"));
}

void TstMergeEngine::removeAgentAndClear()
{
    MergeEngine engine;
    push(engine, summary(u"a"_s, at(3), {{u"t"_s, 2}}, {u"f"_s, u"g"_s}));
    push(engine, summary(u"b"_s, at(1), {{u"t"_s, 3}, {u"u"_s, 1}}, {u"f"_s}));

    engine.removeAgent(u"nobody"_s);
    QCOMPARE(engine.agentCount(), 2);
    QCOMPARE(totals(engine), (QStringList{u"t=5/2"_s, u"u=1/1"_s}));

    engine.removeAgent(u"a"_s);
    QCOMPARE(engine.agentCount(), 1);
    QVERIFY(!engine.agents().contains(u"a"_s));
    QCOMPARE(engine.contributingAgents(), 1);
    QCOMPARE(totals(engine), (QStringList{u"t=3/1"_s, u"u=1/1"_s}));
    QCOMPARE(facts(engine), QStringList{u"f=1"_s});
    QCOMPARE(engine.lastUpdated(), std::optional(at(1)));

    // A removed agent starts afresh, even with an older summary.
    QVERIFY(push(engine, summary(u"a"_s, at(0), {{u"t"_s, 1}})).changesMerge());
    QCOMPARE(engine.agents().value(u"a"_s).pushCount, 1);
    QCOMPARE(totals(engine), (QStringList{u"t=4/2"_s, u"u=1/1"_s}));

    engine.clear();
    QCOMPARE(engine.agentCount(), 0);
    QCOMPARE(engine.contributingAgents(), 0);
    QVERIFY(engine.topicTotals().empty());
    QVERIFY(engine.factHolders().empty());
    QVERIFY(!engine.lastUpdated());
    QVERIFY(engine.pullJson().startsWith(
        R"({"merged_topic_counts":{},"unique_fact_hashes":[],"contributing_agents":0,"last_updated":null,)"));

    // Still usable afterwards.
    push(engine, summary(u"a"_s, at(0), {{u"t"_s, 1}}));
    QCOMPARE(totals(engine), QStringList{u"t=1/1"_s});
}

void TstMergeEngine::overflow_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addColumn<QList<Summary>>("before");
    QTest::addColumn<Summary>("pushed");
    QTest::addColumn<QString>("overflowTopic"); // null: no overflow

    const QString a = u"a"_s, b = u"b"_s, t = u"t"_s;
    const QString none;

    QTest::addRow("latest: two agents")
        << MergeMode::Latest << QList<Summary>{summary(a, at(1), {{t, Int64Max}})}
        << summary(b, at(1), {{u"s"_s, 1}, {t, 1}}) << t;
    QTest::addRow("latest: at the limit")
        << MergeMode::Latest << QList<Summary>{summary(a, at(1), {{t, Int64Max - 1}})}
        << summary(b, at(1), {{t, 1}}) << none;
    QTest::addRow("latest: replacing its own max")
        << MergeMode::Latest
        << QList<Summary>{summary(a, at(1), {{t, Int64Max}}), summary(b, at(1), {{t, 0}})}
        << summary(a, at(2), {{t, Int64Max}}) << none;
    QTest::addRow("latest: replacing, other agent grows")
        << MergeMode::Latest
        << QList<Summary>{summary(a, at(1), {{t, Int64Max - 5}}), summary(b, at(1), {{t, 5}})}
        << summary(b, at(2), {{t, 6}}) << t;
    QTest::addRow("latest: stale push never overflows")
        << MergeMode::Latest
        << QList<Summary>{summary(a, at(1), {{t, Int64Max}}), summary(b, at(5), {{t, 0}})}
        << summary(b, at(2), {{t, 1}}) << none;
    QTest::addRow("cumulative: one agent")
        << MergeMode::Cumulative << QList<Summary>{summary(a, at(1), {{t, Int64Max}})}
        << summary(a, at(2), {{u"s"_s, 1}, {t, 1}}) << t;
    QTest::addRow("cumulative: one agent, same push twice")
        << MergeMode::Cumulative << QList<Summary>{summary(a, at(1), {{t, Int64Max / 2 + 1}})}
        << summary(a, at(1), {{t, Int64Max / 2 + 1}}) << t;
    QTest::addRow("cumulative: two agents")
        << MergeMode::Cumulative << QList<Summary>{summary(a, at(1), {{t, Int64Max - 1}})}
        << summary(b, at(1), {{t, 2}}) << t;
    QTest::addRow("cumulative: at the limit")
        << MergeMode::Cumulative << QList<Summary>{summary(a, at(1), {{t, Int64Max - 2}})}
        << summary(a, at(1), {{t, 1}, {u"u"_s, Int64Max}}) << none;
}

void TstMergeEngine::overflow()
{
    QFETCH(MergeMode, mode);
    QFETCH(QList<Summary>, before);
    QFETCH(Summary, pushed);
    QFETCH(QString, overflowTopic);

    MergeEngine engine(mode);
    for (const Summary &s : before)
        QVERIFY(!push(engine, s).overflows());
    const QByteArray pull = engine.pullJson();
    const QStringList totalsBefore = totals(engine);
    const qint64 pushCount = engine.agents().value(pushed.agentId).pushCount;

    const MergeEngine::Plan plan = push(engine, pushed);
    if (overflowTopic.isNull()) {
        QVERIFY(!plan.overflows());
        QVERIFY(plan.overflowTopic.isNull());
        for (const auto &[topic, total] : engine.topicTotals())
            QVERIFY(total.total >= 0);
        return;
    }
    QVERIFY(plan.overflows());
    QCOMPARE(plan.overflowTopic, overflowTopic);
    QVERIFY(!plan.changesMerge());
    // Nothing applied: the merged view and the agent are exactly as before.
    QCOMPARE(engine.pullJson(), pull);
    QCOMPARE(totals(engine), totalsBefore);
    QCOMPARE(engine.agents().value(pushed.agentId).pushCount, pushCount);
}

void TstMergeEngine::lastUpdatedIsMaxInstant()
{
    MergeEngine engine;
    QVERIFY(!engine.lastUpdated());
    push(engine, summary(u"a"_s, at(30), {}));
    push(engine, summary(u"b"_s, at(10), {}));
    push(engine, summary(u"c"_s, at(20), {}));
    push(engine, summary(u"d"_s, at(20), {}));
    QCOMPARE(engine.lastUpdated(), std::optional(at(30)));
    push(engine, summary(u"b"_s, at(5), {})); // stale
    QCOMPARE(engine.lastUpdated(), std::optional(at(30)));
    engine.removeAgent(u"a"_s);
    QCOMPARE(engine.lastUpdated(), std::optional(at(20)));
    engine.removeAgent(u"c"_s);
    QCOMPARE(engine.lastUpdated(), std::optional(at(20))); // d has it too
    push(engine, summary(u"d"_s, at(25), {}));
    QCOMPARE(engine.lastUpdated(), std::optional(at(25)));
    engine.removeAgent(u"d"_s);
    QCOMPARE(engine.lastUpdated(), std::optional(at(10)));
    // Microseconds count, and an instant before 1970 is fine.
    push(engine, summary(u"e"_s, at(10) + 1, {}));
    QCOMPARE(engine.lastUpdated(), std::optional(at(10) + 1));
    engine.clear();
    push(engine, summary(u"e"_s, -5, {}));
    QCOMPARE(engine.lastUpdated(), std::optional(Instant(-5)));

    MergeEngine cumulative(MergeMode::Cumulative);
    push(cumulative, summary(u"a"_s, at(30), {}));
    push(cumulative, summary(u"a"_s, at(10), {}));
    QCOMPARE(cumulative.lastUpdated(), std::optional(at(30)));
}

void TstMergeEngine::pullJsonExactBytes()
{
    MergeEngine engine;
    const Instant newest = utcInstant(2026, 11, 27, 9, 29, 35, 164165);
    push(engine, summary(u"agent-a"_s, newest,
                         {{u"b"_s, 2}, {u"a"_s, 1}, {u"\U0001F600"_s, 3}, {u"\uFFFD"_s, 4}},
                         {u"z"_s, u"\U0001F600"_s, u"\uFFFD"_s, u"a"_s, u"q\"\\\n\u0001"_s}));
    push(engine, summary(u"agent-b"_s, utcInstant(2026, 11, 27, 9, 29, 35), {{u"a"_s, 10}},
                         {u"a"_s, u"\u00e9"_s}));
    engine.setSequence(7);

    const QByteArray expected =
        QByteArrayLiteral(R"({"merged_topic_counts":{"a":11,"b":2,")") + utf8(u"\uFFFD"_s) +
        R"(":4,")" + utf8(u"\U0001F600"_s) + R"(":3},)" +
        R"("unique_fact_hashes":["a","q\"\\\n\u0001","z",")" + utf8(u"\u00e9"_s) + R"(",")" +
        utf8(u"\uFFFD"_s) + R"(",")" + utf8(u"\U0001F600"_s) +
        R"("],"contributing_agents":2,"last_updated":"2026-11-27T09:29:35.164165+00:00",)"
        R"("metadata":{"total_facts":6,"total_topics":4,"merge_mode":"latest","sequence":7}})";
    QCOMPARE(engine.pullJson(), expected);
    // And it is valid JSON that says the same.
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(engine.pullJson(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(doc.object().value(u"unique_fact_hashes").toArray().at(1).toString(),
             u"q\"\\\n\u0001"_s);
}

void TstMergeEngine::pullJsonEmpty_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addRow("latest") << MergeMode::Latest;
    QTest::addRow("cumulative") << MergeMode::Cumulative;
}

void TstMergeEngine::pullJsonEmpty()
{
    QFETCH(MergeMode, mode);
    MergeEngine engine(mode);
    const QByteArray expected =
        QByteArrayLiteral(R"({"merged_topic_counts":{},"unique_fact_hashes":[],)"
                          R"("contributing_agents":0,"last_updated":null,"metadata":)"
                          R"({"total_facts":0,"total_topics":0,"merge_mode":")") +
        utf8(agmem::mergeModeName(mode)) + R"(","sequence":0}})";
    QCOMPARE(engine.pullJson(), expected);
}

// pullJson is cached: every change must show up in the next answer.
void TstMergeEngine::pullJsonFollowsChanges()
{
    MergeEngine engine;
    const QByteArray empty = engine.pullJson();
    push(engine, summary(u"a"_s, at(1), {{u"t"_s, 1}}, {u"f"_s}));
    const QByteArray one = engine.pullJson();
    QVERIFY(one != empty);
    QVERIFY(one.contains(R"("t":1)"));
    QVERIFY(one.contains(R"("sequence":1)"));

    engine.setSequence(41);
    QVERIFY(engine.pullJson().contains(R"("sequence":41)"));
    engine.setSequence(41);
    QVERIFY(engine.pullJson().contains(R"("sequence":41)"));

    engine.apply(u"a"_s, MergeEngine::contributionOf(summary(u"a"_s, at(2), {{u"t"_s, 9}})), at(2),
                 42);
    QVERIFY(engine.pullJson().contains(R"("t":9)"));

    engine.removeAgent(u"a"_s);
    QVERIFY(engine.pullJson().contains(R"("merged_topic_counts":{})"));

    push(engine, summary(u"b"_s, at(1), {{u"u"_s, 2}}));
    QVERIFY(engine.pullJson().contains(R"("u":2)"));
    engine.clear();
    QVERIFY(engine.pullJson().contains(R"("merged_topic_counts":{})"));

    agmem::AgentState state;
    state.agentId = u"c"_s;
    state.current = MergeEngine::contributionOf(summary(u"c"_s, at(3), {{u"w"_s, 3}}, {u"h"_s}));
    state.pushCount = 4;
    engine.restore(state);
    QVERIFY(
        engine.pullJson().contains(R"("merged_topic_counts":{"w":3},"unique_fact_hashes":["h"])"));
    QCOMPARE(engine.agents().value(u"c"_s).pushCount, 4);
    // Restoring an agent again replaces it instead of adding it twice.
    engine.restore(state);
    QCOMPARE(totals(engine), QStringList{u"w=3/1"_s});
    QCOMPARE(engine.contributingAgents(), 1);
}

void TstMergeEngine::codePointLess_data()
{
    QTest::addColumn<QString>("a");
    QTest::addColumn<QString>("b");
    QTest::addColumn<bool>("less");

    QTest::addRow("empty first") << QString() << u"a"_s << true;
    QTest::addRow("both empty") << QString() << u""_s << false;
    QTest::addRow("a < b") << u"a"_s << u"b"_s << true;
    QTest::addRow("prefix first") << u"a"_s << u"aa"_s << true;
    QTest::addRow("upper before lower") << u"B"_s << u"a"_s << true;
    QTest::addRow("equal") << u"abc"_s << u"abc"_s << false;
    QTest::addRow("equal astral") << u"\U0001F600"_s << u"\U0001F600"_s << false;
    QTest::addRow("ascii < BMP") << u"z"_s << u"\u00e9"_s << true;
    QTest::addRow("D7FF < E000") << u"\uD7FF"_s << u"\uE000"_s << true;
    QTest::addRow("D7FF < astral") << u"\uD7FF"_s << u"\U00010000"_s << true;
    QTest::addRow("E000 < astral") << u"\uE000"_s << u"\U00010000"_s << true;
    QTest::addRow("FFFD < U+1F600") << u"\uFFFD"_s << u"\U0001F600"_s << true;
    QTest::addRow("FFFF < U+10000") << u"\uFFFF"_s << u"\U00010000"_s << true;
    QTest::addRow("U+1F600 < U+1F601") << u"\U0001F600"_s << u"\U0001F601"_s << true;
    QTest::addRow("U+10000 < U+10FFFF") << u"\U00010000"_s << u"\U0010FFFF"_s << true;
    QTest::addRow("U+FFFF4 < U+100000") << u"\U000FFFF4"_s << u"\U00100000"_s << true;
    QTest::addRow("after a common prefix") << u"z\uFFFD"_s << u"z\U0001F600"_s << true;
    QTest::addRow("astral then more") << u"\U0001F600"_s << u"\U0001F600a"_s << true;
    QTest::addRow("decided before length") << u"b"_s << u"a\U0001F600"_s << false;
}

void TstMergeEngine::codePointLess()
{
    QFETCH(QString, a);
    QFETCH(QString, b);
    QFETCH(bool, less);

    const CodePointLess cmp;
    QCOMPARE(cmp(a, b), less);
    QCOMPARE(ucs4Less(a, b), less); // the table itself is right
    if (less)
        QVERIFY(!cmp(b, a));
    else if (a == b)
        QVERIFY(!cmp(b, a));
    QVERIFY(!cmp(a, a));
    // The three-way comparison agrees, both ways round.
    const int c = agmem::compareCodePoints(a, b);
    QCOMPARE(c < 0, less);
    QCOMPARE(c == 0, a == b);
    QCOMPARE(agmem::compareCodePoints(b, a) < 0, !less && a != b);
    QCOMPARE(agmem::compareCodePoints(a, a), 0);
    // The same data, shorter: decided by the length alone.
    if (!a.isEmpty()) {
        QVERIFY(agmem::compareCodePoints(QStringView(a).chopped(1), a) < 0);
        QVERIFY(agmem::compareCodePoints(a, QStringView(a).chopped(1)) > 0);
    }
}

void TstMergeEngine::codePointLessMatchesUcs4()
{
    // QString's own operator< disagrees (UTF-16 order): make sure that case is exercised.
    QVERIFY(u"\U0001F600"_s < u"\uFFFD"_s);

    QRandomGenerator rng(20250101);
    const char32_t alphabet[] = {U'a',      U'b',      U'\u00e9',     U'\uD7FF',     U'\uE000',
                                 U'\uFFFD', U'\uFFFF', U'\U00010000', U'\U0001F600', U'\U0010FFFF'};
    const auto randomString = [&] {
        QString s;
        const int length = rng.bounded(4);
        for (int i = 0; i < length; ++i) {
            const char32_t c = alphabet[rng.bounded(int(std::size(alphabet)))];
            s += QString::fromUcs4(&c, 1);
        }
        return s;
    };
    const CodePointLess cmp;
    for (int i = 0; i < 20000; ++i) {
        const QString a = randomString();
        const QString b = randomString();
        if (cmp(a, b) != ucs4Less(a, b)) {
            QFAIL(qPrintable(u"CodePointLess(%1, %2) = %3"_s.arg(a, b).arg(cmp(a, b))));
        }
        const int c = agmem::compareCodePoints(a, b);
        if ((c < 0) != ucs4Less(a, b) || (c == 0) != (a == b)) {
            QFAIL(qPrintable(u"compareCodePoints(%1, %2) = %3"_s.arg(a, b).arg(c)));
        }
    }
}

void TstMergeEngine::sortByCodePointMatchesCodePointLess()
{
    // Keys are built from the first eight UTF-16 units: long shared prefixes (ties), units
    // around the surrogates and U+E000, the end of a string within the key and beyond it.
    QRandomGenerator rng(20261130);
    const char32_t alphabet[] = {U'\0',     U'a',      U'b',          U'\u00e9',     U'\uD7FF',
                                 U'\uE000', U'\uFFFF', U'\U00010000', U'\U0001F600', U'\U0010FFFF'};
    const QString prefixes[] = {u""_s, u"abcdefg"_s, u"abcdefgh"_s, u"abcdefghij"_s};
    std::vector<QString> strings;
    for (int i = 0; i < 20000; ++i) {
        QString s = prefixes[rng.bounded(int(std::size(prefixes)))];
        const int length = rng.bounded(12);
        for (int j = 0; j < length; ++j) {
            const char32_t c = alphabet[rng.bounded(int(std::size(alphabet)))];
            s += QString::fromUcs4(&c, 1);
        }
        strings.push_back(s);
    }
    std::vector<QString> expected = strings;
    std::stable_sort(expected.begin(), expected.end(), CodePointLess{});
    std::vector<QString> sorted = strings;
    agmem::sortByCodePoint(sorted);
    QCOMPARE(sorted.size(), expected.size());
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i] != expected[i])
            QFAIL(qPrintable(u"row %1: %2 instead of %3"_s.arg(i).arg(sorted[i], expected[i])));
    }

    // Items with a key, moved into place.
    std::vector<std::pair<QString, int>> items;
    for (size_t i = 0; i < strings.size(); ++i)
        items.emplace_back(strings[i], int(i));
    agmem::sortByCodePoint(items, [](const auto &item) -> const QString & { return item.first; });
    for (size_t i = 0; i < items.size(); ++i) {
        QCOMPARE(items[i].first, expected[i]);
        QCOMPARE(strings[size_t(items[i].second)], items[i].first);
    }
}

void TstMergeEngine::randomizedMatchesNaiveModel_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addColumn<quint32>("seed");
    QTest::addRow("latest") << MergeMode::Latest << quint32(1);
    QTest::addRow("latest, other seed") << MergeMode::Latest << quint32(77);
    QTest::addRow("cumulative") << MergeMode::Cumulative << quint32(2);
    QTest::addRow("cumulative, other seed") << MergeMode::Cumulative << quint32(78);
}

// 2000 random pushes (and a few removals) against a naive recomputation of the merged view
// from scratch after every step: the per-agent winners (latest) or every push (cumulative).
void TstMergeEngine::randomizedMatchesNaiveModel()
{
    QFETCH(MergeMode, mode);
    QFETCH(quint32, seed);
    QRandomGenerator rng(seed);

    QStringList agents;
    for (int i = 0; i < 12; ++i)
        agents << u"agent-%1"_s.arg(i);
    QStringList topicPool{u""_s,           u"episodic"_s,      u"semantic"_s, u"procedural"_s,
                          u"Episodic"_s,   u"\u00e9t\u00e9"_s, u"\uFFFD"_s,   u"\uE000"_s,
                          u"\U0001F600"_s, u"\U00010000"_s,    u"a"_s,        u"ab"_s};
    QStringList factPool;
    for (int i = 0; i < 30; ++i)
        factPool << u"fact-%1"_s.arg(i);
    factPool << u"\uFFFD"_s << u"\U0001F600"_s << u"\uFFFF"_s << u"Daily standup"_s;

    const auto pick = [&](const QStringList &pool, int maxCount) {
        QStringList chosen = pool;
        for (qsizetype i = chosen.size() - 1; i > 0; --i)
            chosen.swapItemsAt(i, rng.bounded(int(i + 1)));
        return chosen.mid(0, rng.bounded(maxCount + 1));
    };

    // The model: per agent, the winning summary (latest) or the sums (cumulative).
    struct ModelAgent
    {
        Instant timestamp = 0;
        std::map<QString, qint64> topics;
        std::set<QString> facts;
        qint64 pushes = 0;
    };
    QHash<QString, ModelAgent> model;

    MergeEngine engine(mode);
    int changes = 0;
    int stale = 0;
    int ties = 0;
    for (int step = 0; step < 2000; ++step) {
        const QString agent = agents.at(rng.bounded(int(agents.size())));
        if (rng.bounded(100) < 2) {
            engine.removeAgent(agent);
            model.remove(agent);
        } else {
            Summary s;
            s.agentId = agent;
            // A window that slides forward: newer, older and equal timestamps all occur.
            s.timestamp = at(step / 4 + rng.bounded(8)) + (rng.bounded(8) == 0 ? 1 : 0);
            for (const QString &topic : pick(topicPool, 5))
                s.topicCounts.append({topic, qint64(rng.bounded(4) == 0 ? 0 : rng.bounded(1000))});
            s.factHashes = pick(factPool, 8);

            const bool known = model.contains(agent);
            ModelAgent &m = model[agent];
            ++m.pushes;
            if (mode == MergeMode::Latest) {
                if (known && s.timestamp == m.timestamp)
                    ++ties;
                if (!known || s.timestamp >= m.timestamp) {
                    m.timestamp = s.timestamp;
                    m.topics.clear();
                    for (const auto &[topic, count] : s.topicCounts)
                        m.topics[topic] = count;
                    m.facts = std::set<QString>(s.factHashes.begin(), s.factHashes.end());
                } else {
                    ++stale;
                }
            } else {
                m.timestamp = known ? std::max(m.timestamp, s.timestamp) : s.timestamp;
                for (const auto &[topic, count] : s.topicCounts)
                    m.topics[topic] += count;
                m.facts.insert(s.factHashes.begin(), s.factHashes.end());
            }

            const MergeEngine::Plan plan = push(engine, s);
            QVERIFY(!plan.overflows());
            changes += plan.changesMerge() ? 1 : 0;
        }

        // Recompute the merged view from the model.
        std::map<QString, TopicTotalPair, CodePointLess> expectedTopics;
        std::map<QString, qint64, CodePointLess> expectedFacts;
        std::optional<Instant> expectedLast;
        for (auto it = model.cbegin(); it != model.cend(); ++it) {
            for (const auto &[topic, count] : it->topics) {
                expectedTopics[topic].first += count;
                ++expectedTopics[topic].second;
            }
            for (const QString &fact : it->facts)
                ++expectedFacts[fact];
            if (!expectedLast || it->timestamp > *expectedLast)
                expectedLast = it->timestamp;
        }
        QStringList expectedTotals;
        for (const auto &[topic, total] : expectedTopics)
            expectedTotals << u"%1=%2/%3"_s.arg(topic).arg(total.first).arg(total.second);
        QStringList expectedFactList;
        for (const auto &[fact, holders] : expectedFacts)
            expectedFactList << u"%1=%2"_s.arg(fact).arg(holders);

        QCOMPARE(totals(engine), expectedTotals);
        QCOMPARE(facts(engine), expectedFactList);
        QCOMPARE(engine.contributingAgents(), int(model.size()));
        QCOMPARE(engine.agentCount(), model.size());
        QCOMPARE(engine.lastUpdated(), expectedLast);
        for (auto it = model.cbegin(); it != model.cend(); ++it) {
            const agmem::AgentState state = engine.agents().value(it.key());
            QCOMPARE(state.pushCount, it->pushes);
            QVERIFY(state.current);
            QCOMPARE(state.current->timestamp, it->timestamp);
        }
    }

    // The run exercised what it is meant to.
    QVERIFY2(changes > 500, qPrintable(QString::number(changes)));
    if (mode == MergeMode::Latest) {
        QVERIFY2(stale > 100, qPrintable(QString::number(stale)));
        QVERIFY2(ties > 50, qPrintable(QString::number(ties)));
    }

    // The final answer agrees with the model as JSON too, facts in code-point order.
    const QJsonObject pull = QJsonDocument::fromJson(engine.pullJson()).object();
    const QJsonObject merged = pull.value(u"merged_topic_counts").toObject();
    QCOMPARE(merged.size(), qsizetype(engine.topicTotals().size()));
    for (const auto &[topic, total] : engine.topicTotals())
        QCOMPARE(merged.value(topic).toInteger(), total.total);
    QStringList pulledFacts;
    for (const QJsonValue &v : pull.value(u"unique_fact_hashes").toArray())
        pulledFacts << v.toString();
    QStringList engineFacts;
    for (const auto &[fact, holders] : engine.factHolders())
        engineFacts << fact;
    std::sort(engineFacts.begin(), engineFacts.end(), CodePointLess{});
    QCOMPARE(pulledFacts, engineFacts);
    QVERIFY(std::is_sorted(pulledFacts.begin(), pulledFacts.end(), ucs4Less));
    QCOMPARE(pull.value(u"contributing_agents").toInteger(), qint64(model.size()));
}

QTEST_APPLESS_MAIN(TstMergeEngine)

// An agent's new contribution replaces its old one in place (topics and facts both hold
// looked up once or not at all): the view must be the one an engine gets from every
// agent's final state added from scratch, with repeated and shared topics and facts,
// counts that come back to earlier values and equal timestamps; and the maintained /pull
// answer (fed by the changes) the one serialized anew.
void TstMergeEngine::replacedContributionMatchesRebuilt_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addRow("latest") << MergeMode::Latest;
    QTest::addRow("cumulative") << MergeMode::Cumulative;
}

void TstMergeEngine::replacedContributionMatchesRebuilt()
{
    QFETCH(MergeMode, mode);
    QRandomGenerator rng(4242);
    const QStringList topicPool{u"a"_s, u"b"_s, u"\uE000"_s, u"\U0001F600"_s};
    const QStringList factPool{u"f1"_s, u"f2"_s, u"Daily standup"_s, u"\uFFFD"_s, u"\U0001F600"_s};
    MergeEngine engine(mode);
    for (int step = 0; step < 1500; ++step) {
        Summary s;
        s.agentId = u"agent-%1"_s.arg(rng.bounded(5));
        s.timestamp = at(step / 3); // ties too: a later arrival at an equal time wins
        for (int i = rng.bounded(4); i > 0; --i)
            s.topicCounts.append(
                {topicPool.at(rng.bounded(int(topicPool.size()))), qint64(rng.bounded(3))});
        for (int i = rng.bounded(5); i > 0; --i)
            s.factHashes.append(factPool.at(rng.bounded(int(factPool.size()))));
        QVERIFY(!push(engine, s).overflows());

        MergeEngine rebuilt(mode);
        for (const agmem::AgentState &agent : engine.agents())
            rebuilt.restore(agent);
        QCOMPARE(totals(engine), totals(rebuilt));
        QCOMPARE(facts(engine), facts(rebuilt));
        QCOMPARE(engine.contributingAgents(), rebuilt.contributingAgents());
        QCOMPARE(engine.lastUpdated(), rebuilt.lastUpdated());
        QCOMPARE(engine.pullJson(), engine.buildPullJson());
    }
}

#include "tst_mergeengine.moc"
