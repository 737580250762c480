// The maintained /pull answer (core/pullanswer.h): after any sequence of changes its bytes,
// plain and gzip-decoded, equal a fresh full serialization of the same state.
#include "core/mergeengine.h"
#include "gzipsupport.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QSemaphore>
#include <QThread>
#include <QtTest>

#include <atomic>

using agmem::test::gunzip;
using namespace Qt::StringLiterals;
using agmem::Instant;
using agmem::MergeEngine;
using agmem::MergeMode;
using agmem::PullAnswer;
using agmem::Summary;

Q_DECLARE_METATYPE(agmem::MergeMode)

namespace {

const Instant T0 = Instant(1'735'689'600) * 1'000'000; // 2025-01-01T00:00:00Z

// Keys that exercise the ordering (surrogates after U+E000..U+FFFF) and the escaping.
QString randomKey(QRandomGenerator &rng, int pool)
{
    static const QStringList odd = {
        u"\U0001F600"_s,  u"\uE000"_s, u"\uFFFD"_s,    u"\u00e9"_s, u"a\"b"_s,
        u"back\\slash"_s, u"tab\t"_s,  u"ctl\u0001"_s, u""_s,       u"Z"_s};
    const int n = int(rng.bounded(pool));
    if (n < odd.size() && rng.bounded(4) == 0)
        return odd.at(n) + QString::number(n % 3);
    return u"%1"_s.arg(quint64(n) * 2654435761u % 1000003, 8, 16, QChar(u'0'));
}

Summary randomSummary(QRandomGenerator &rng, int agents, int factPool, int topicPool, Instant at)
{
    Summary s;
    s.agentId = u"agent-%1"_s.arg(rng.bounded(agents));
    s.timestamp = at;
    const int topics = int(rng.bounded(4));
    QSet<QString> seen;
    for (int i = 0; i < topics; ++i) {
        const QString t = u"topic-"_s + randomKey(rng, topicPool);
        if (!seen.contains(t)) {
            seen.insert(t);
            s.topicCounts.append({t, qint64(rng.bounded(5))});
        }
    }
    const int facts = int(rng.bounded(30));
    QSet<QString> factSeen;
    for (int i = 0; i < facts; ++i) {
        const QString f = randomKey(rng, factPool);
        if (!factSeen.contains(f)) {
            factSeen.insert(f);
            s.factHashes.append(f);
        }
    }
    return s;
}

// The answer as the server gets it: built on the answer's worker thread.
PullAnswer::BodyPtr viaWorker(PullAnswer &answer, PullAnswer::Encoding encoding)
{
    QSemaphore done;
    PullAnswer::BodyPtr out;
    answer.request(encoding, [&](PullAnswer::BodyPtr body) {
        out = std::move(body);
        done.release();
    });
    if (!done.tryAcquire(1, 60000))
        qFatal("the worker thread gave no answer");
    return out;
}

void push(MergeEngine &engine, const Summary &s, bool publish = true)
{
    const MergeEngine::Plan plan = engine.plan(s);
    if (plan.overflows())
        return;
    const quint64 sequence = engine.sequence() + (plan.changesMerge() ? 1 : 0);
    engine.apply(s.agentId, plan.next, s.timestamp, sequence);
    if (publish)
        engine.setSequence(sequence);
}

} // namespace

class TstPullAnswer : public QObject
{
    Q_OBJECT

private slots:
    void emptyEngine_data();
    void emptyEngine();
    void randomizedMatchesFullBuild_data();
    void randomizedMatchesFullBuild();
    void oneChangeTouchesFewChunks();
    void smallChangesPatchTheJson();
    void longUnpublishedRunSendsWholeView();
    void copiesHaveTheirOwnAnswer();
    void concurrentPullsShareOneBuild();
    void pullsFromOtherThreadsWhilePushing();
    void requestsShareOneWorkerBuild();
    void searchAsQStringContains();
};

void TstPullAnswer::emptyEngine_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addRow("latest") << MergeMode::Latest;
    QTest::addRow("cumulative") << MergeMode::Cumulative;
}

void TstPullAnswer::emptyEngine()
{
    QFETCH(MergeMode, mode);
    MergeEngine engine(mode);
    QCOMPARE(engine.pullJson(), engine.buildPullJson());
    bool ok = false;
    QCOMPARE(gunzip(engine.answer()->gzip()->joined(), &ok), engine.buildPullJson());
    QVERIFY(ok);
}

void TstPullAnswer::randomizedMatchesFullBuild_data()
{
    QTest::addColumn<MergeMode>("mode");
    QTest::addColumn<int>("agents");
    QTest::addColumn<int>("factPool");
    QTest::addColumn<quint32>("seed");
    // Small pools: keys come and go often. Large: many chunks, splits and joins.
    QTest::addRow("latest, small") << MergeMode::Latest << 8 << 40 << 1u;
    QTest::addRow("latest, large") << MergeMode::Latest << 200 << 20000 << 2u;
    QTest::addRow("cumulative, small") << MergeMode::Cumulative << 8 << 40 << 3u;
    QTest::addRow("cumulative, large") << MergeMode::Cumulative << 200 << 20000 << 4u;
    // Many blocks: blocks re-joined, cut when grown, and starts moving as chunks go.
    QTest::addRow("latest, many blocks") << MergeMode::Latest << 800 << 400000 << 5u;
}

void TstPullAnswer::randomizedMatchesFullBuild()
{
    QFETCH(MergeMode, mode);
    QFETCH(int, agents);
    QFETCH(int, factPool);
    QFETCH(quint32, seed);
    QRandomGenerator rng(seed);
    MergeEngine engine(mode);
    int compared = 0;
    for (int step = 0; step < 3000; ++step) {
        const Instant at = T0 + Instant(rng.bounded(2000)) * 1'000'000;
        const quint32 action = rng.bounded(1000);
        if (action < 6) {
            engine.removeAgent(u"agent-%1"_s.arg(rng.bounded(agents)));
            engine.setSequence(engine.sequence() + 1);
        } else if (action < 7) {
            engine.clear();
            engine.setSequence(engine.sequence() + 1);
        } else if (action < 20) {
            // Restore an agent's state as loaded from the store.
            const auto it = engine.agents().constFind(u"agent-%1"_s.arg(rng.bounded(agents)));
            if (it != engine.agents().cend()) {
                agmem::AgentState state = *it;
                engine.restore(state);
            }
        } else {
            // Some batches are applied without publishing in between.
            push(engine, randomSummary(rng, agents, factPool, 30, at), rng.bounded(3) != 0);
        }
        if (rng.bounded(25) != 0)
            continue;
        ++compared;
        const QByteArray expected = engine.buildPullJson();
        // Sometimes gzip is asked for first, sometimes plain; sometimes built on the
        // answer's worker thread.
        const bool gzipFirst = rng.bounded(2) == 0;
        const bool worker = rng.bounded(3) == 0;
        const auto get = [&](PullAnswer::Encoding e) {
            const std::shared_ptr<PullAnswer> answer = engine.answer();
            return (worker ? viaWorker(*answer, e) : answer->body(e))->joined();
        };
        QByteArray gz;
        if (gzipFirst)
            gz = get(PullAnswer::Encoding::Gzip);
        const QByteArray plain = get(PullAnswer::Encoding::Plain);
        QCOMPARE(engine.answer()->plain()->size, plain.size());
        if (!gzipFirst)
            gz = get(PullAnswer::Encoding::Gzip);
        if (plain != expected) {
            qsizetype i = 0;
            while (i < plain.size() && i < expected.size() && plain.at(i) == expected.at(i))
                ++i;
            QFAIL(qPrintable(u"step %1: differs at byte %2: %3 vs %4"_s.arg(step).arg(i).arg(
                QString::fromUtf8(plain.mid(qMax<qsizetype>(0, i - 40), 80)),
                QString::fromUtf8(expected.mid(qMax<qsizetype>(0, i - 40), 80)))));
        }
        bool ok = false;
        QCOMPARE(gunzip(gz, &ok), expected);
        QVERIFY(ok);
        QCOMPARE(engine.answer()->gzip()->plainSize, expected.size());
        // GET /facts's pages from the chunks: the engine's facts in code-point order.
        std::vector<QString> sorted;
        for (const auto &[fact, holders] : engine.factHolders())
            sorted.push_back(fact);
        std::sort(sorted.begin(), sorted.end(), agmem::CodePointLess{});
        const qint64 offset = rng.bounded(qint64(sorted.size()) + 2);
        const qint64 limit = 1 + rng.bounded(150);
        const agmem::PullAnswer::FactsPage page = engine.answer()->facts(offset, limit);
        QCOMPARE(page.total, qint64(sorted.size()));
        const auto from = sorted.begin() + std::min<qint64>(offset, qint64(sorted.size()));
        QCOMPARE(page.facts,
                 std::vector<QString>(from, from + std::min<qint64>(limit, sorted.end() - from)));
        // And a search: case-insensitive, paged over the matches.
        const QString needle = u"F%1"_s.arg(rng.bounded(10));
        std::vector<QString> matches;
        for (const QString &fact : sorted) {
            if (fact.contains(needle, Qt::CaseInsensitive))
                matches.push_back(fact);
        }
        const agmem::PullAnswer::FactsPage found = engine.answer()->facts(1, 5, needle);
        QCOMPARE(found.total, qint64(matches.size()));
        const auto mfrom = matches.begin() + std::min<qsizetype>(1, qsizetype(matches.size()));
        QCOMPARE(found.facts,
                 std::vector<QString>(mfrom, mfrom + std::min<qint64>(5, matches.end() - mfrom)));
    }
    QVERIFY(compared > 50);
    // The final state was a real one: the answer is valid JSON with the engine's counts.
    const QJsonObject pull = QJsonDocument::fromJson(engine.pullJson()).object();
    QCOMPARE(pull.value(u"metadata").toObject().value(u"total_facts").toInteger(),
             qint64(engine.factHolders().size()));
}

// A one-agent change re-serializes (and re-deflates) only the chunks holding what changed.
void TstPullAnswer::oneChangeTouchesFewChunks()
{
    MergeEngine engine;
    for (int a = 0; a < 1000; ++a) {
        Summary s;
        s.agentId = u"agent-%1"_s.arg(a);
        s.timestamp = T0;
        s.topicCounts = {{u"t%1"_s.arg(a % 300), 1}};
        for (int f = 0; f < 20; ++f)
            s.factHashes << u"fact-%1-%2"_s.arg(a).arg(f);
        push(engine, s);
    }
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    answer->plain();
    answer->gzip();
    const PullAnswer::Counters before = answer->counters();
    const qint64 chunks = 20000 / PullAnswer::ChunkTarget;
    QVERIFY(before.chunksSerialized >= chunks);

    Summary s;
    s.agentId = u"agent-7"_s;
    s.timestamp = T0 + 1;
    s.topicCounts = {{u"t7"_s, 5}};
    for (int f = 0; f < 20; ++f)
        s.factHashes << u"fact-7-%1-new"_s.arg(f);
    push(engine, s);
    const QByteArray plain = engine.pullJson();
    bool ok = false;
    QCOMPARE(gunzip(engine.answer()->gzip()->joined(), &ok), plain);
    QVERIFY(ok);
    QCOMPARE(plain, engine.buildPullJson());

    const PullAnswer::Counters after = answer->counters();
    QCOMPARE(after.fullBuilds, before.fullBuilds);
    // The old and new facts of agent 7 sort next to each other: a few chunks, one topic chunk
    // (serialized again whole or patched).
    QVERIFY2(after.chunksSerialized - before.chunksSerialized <= 4,
             qPrintable(QString::number(after.chunksSerialized - before.chunksSerialized)));
    QVERIFY2(after.chunksDeflated - before.chunksDeflated <= 4,
             qPrintable(QString::number(after.chunksDeflated - before.chunksDeflated)));
    // ... and re-joins only the blocks holding them: plain and gzip, a topic block and one
    // or two fact blocks each (of about 20000 / (64 * 16) = 20 fact blocks).
    QVERIFY2(after.blocksJoined - before.blocksJoined <= 6,
             qPrintable(QString::number(after.blocksJoined - before.blocksJoined)));
    QVERIFY(before.blocksJoined >= 2 * (chunks / PullAnswer::BlockChunks));
    // The answer is a few hundred pieces, not one per chunk.
    QVERIFY2(engine.answer()->plain()->pieces.size() <= chunks / PullAnswer::BlockChunks + 8,
             qPrintable(QString::number(engine.answer()->plain()->pieces.size())));

    // Asking again for the same state builds nothing and hands out the same bytes.
    const auto again = answer->plain();
    QCOMPARE(answer->counters().chunksSerialized, after.chunksSerialized);
    QCOMPARE(again->joined(), plain);
    QVERIFY(again.get() == answer->plain().get());
}

// Changes of a few keys at a time patch the chunks' JSON (no chunk is serialized again),
// through every way a chunk changes: a count replaced, keys inserted and removed at either
// end and inside, a chunk split in two and two small chunks joined.
void TstPullAnswer::smallChangesPatchTheJson()
{
    MergeEngine engine;
    // One agent's 300 facts: chunks f000..f063, f064..f127, f128..f191, ... after the first
    // (full) build.
    QStringList facts;
    for (int f = 0; f < 300; ++f)
        facts << u"f%1"_s.arg(f, 3, 10, QChar(u'0'));
    Instant at = T0;
    const auto pushFacts = [&](const QStringList &hashes, qint64 count) {
        Summary s;
        s.agentId = u"agent-a"_s;
        s.timestamp = at += 1'000'000;
        s.topicCounts = {{u"topic"_s, count}, {u"other \"quoted\""_s, 1}};
        s.factHashes = hashes;
        push(engine, s);
    };
    pushFacts(facts, 1);
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    answer->plain();
    answer->gzip();
    const PullAnswer::Counters before = answer->counters();
    const auto check = [&](const char *what) {
        const QByteArray expected = engine.buildPullJson();
        QVERIFY2(answer->plain()->joined() == expected, what);
        bool ok = false;
        QVERIFY2(gunzip(answer->gzip()->joined(), &ok) == expected, what);
        QVERIFY(ok);
    };
    qint64 count = 1;
    // Shrink the third chunk to 40 keys, then the second below a quarter of a chunk: it is
    // joined with the third. Three keys per update (a chunk is patched up to four times
    // in one update).
    for (const auto &[from, to] : {std::pair{128, 152}, std::pair{64, 113}}) {
        for (int f = from; f < to; f += 3) {
            for (int k = f; k < std::min(f + 3, to); ++k)
                facts.removeOne(u"f%1"_s.arg(k, 3, 10, QChar(u'0')));
            pushFacts(facts, ++count);
            check("shrinking");
            if (QTest::currentTestFailed())
                return;
        }
    }
    // Keys before the first, after the last and between two (one in the joined chunk's part
    // that came from the third); then one chunk grown past two chunks' worth, so it splits.
    for (const QString &extra : {u"a-first"_s, u"z-last"_s, u"f0645"_s, u"f1605"_s}) {
        facts << extra;
        pushFacts(facts, ++count);
        check("inserting");
    }
    for (int k = 0; k < 70; k += 2) {
        facts << u"f200-%1"_s.arg(k, 2, 10, QChar(u'0'))
              << u"f200-%1"_s.arg(k + 1, 2, 10, QChar(u'0'));
        pushFacts(facts, ++count);
        check("splitting");
        if (QTest::currentTestFailed())
            return;
    }
    // The first key and the last go.
    facts.removeOne(u"a-first"_s);
    facts.removeOne(u"z-last"_s);
    pushFacts(facts, ++count);
    check("removing the ends");

    const PullAnswer::Counters after = answer->counters();
    QCOMPARE(after.fullBuilds, before.fullBuilds);
    QCOMPARE(after.chunksSerialized, before.chunksSerialized);
    QVERIFY2(after.chunksPatched - before.chunksPatched > 100,
             qPrintable(QString::number(after.chunksPatched - before.chunksPatched)));
}

// Many changes and nobody publishing: the journal gives way to one full update.
void TstPullAnswer::longUnpublishedRunSendsWholeView()
{
    MergeEngine engine;
    engine.pullJson(); // the first full build
    const qint64 fullBefore = engine.answer()->counters().fullBuilds;
    QRandomGenerator rng(7);
    for (int i = 0; i < 6000; ++i)
        push(engine, randomSummary(rng, 3000, 1'000'000, 50, T0 + i), false);
    QCOMPARE(engine.pullJson(), engine.buildPullJson());
    QCOMPARE(engine.answer()->counters().fullBuilds, fullBefore + 1);
}

void TstPullAnswer::copiesHaveTheirOwnAnswer()
{
    MergeEngine engine;
    QRandomGenerator rng(11);
    for (int i = 0; i < 50; ++i)
        push(engine, randomSummary(rng, 10, 200, 10, T0 + i));
    const QByteArray before = engine.pullJson();
    MergeEngine copy = engine;
    QCOMPARE(copy.pullJson(), before);
    QVERIFY(copy.answer() != engine.answer());
    for (int i = 0; i < 50; ++i)
        push(copy, randomSummary(rng, 10, 200, 10, T0 + 100 + i));
    QCOMPARE(engine.pullJson(), before);
    QCOMPARE(copy.pullJson(), copy.buildPullJson());
    QVERIFY(copy.pullJson() != before);

    MergeEngine moved = std::move(copy);
    QCOMPARE(moved.pullJson(), moved.buildPullJson());

    // An engine assigned to keeps its answer (others may hold it), which shows the new view.
    MergeEngine assigned;
    const std::shared_ptr<PullAnswer> held = assigned.answer();
    QVERIFY(held->plain()->joined() != before);
    assigned = engine;
    QVERIFY(assigned.answer() == held);
    QCOMPARE(held->plain()->joined(), before);
}

void TstPullAnswer::concurrentPullsShareOneBuild()
{
    MergeEngine engine;
    QRandomGenerator rng(5);
    for (int i = 0; i < 500; ++i)
        push(engine, randomSummary(rng, 100, 100000, 50, T0 + i));
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    std::atomic<const void *> bodies[8] = {};
    std::atomic<const void *> gzips[8] = {};
    QList<QThread *> threads;
    for (int t = 0; t < 8; ++t) {
        threads << QThread::create([&, t] {
            bodies[t] = answer->plain().get();
            gzips[t] = answer->gzip().get();
        });
    }
    for (QThread *t : threads)
        t->start();
    for (QThread *t : threads) {
        QVERIFY(t->wait(60000));
        delete t;
    }
    // One body per form for the one state, whoever built it.
    for (int t = 1; t < 8; ++t) {
        QCOMPARE(bodies[t].load(), bodies[0].load());
        QCOMPARE(gzips[t].load(), gzips[0].load());
    }
    QCOMPARE(answer->counters().fullBuilds, qint64(1));
}

// Pulls on other threads while the engine's thread keeps changing the view: every answer is
// a whole, valid one for some published sequence, and sequences never go back.
void TstPullAnswer::pullsFromOtherThreadsWhilePushing()
{
    MergeEngine engine;
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    std::atomic<bool> stop = false;
    std::atomic<int> bad = 0;
    std::atomic<int> pulls = 0;
    QList<QThread *> threads;
    for (int t = 0; t < 3; ++t) {
        threads << QThread::create([&, t] {
            quint64 last = 0;
            while (!stop) {
                const bool gz = t == 2;
                const auto body = gz ? answer->gzip() : answer->plain();
                QByteArray bytes = body->joined();
                if (gz) {
                    bool ok = false;
                    bytes = gunzip(bytes, &ok);
                    if (!ok)
                        ++bad;
                }
                QJsonParseError error;
                const QJsonObject o = QJsonDocument::fromJson(bytes, &error).object();
                const quint64 sequence =
                    quint64(o.value(u"metadata").toObject().value(u"sequence").toInteger());
                if (error.error != QJsonParseError::NoError || sequence < last ||
                    sequence != body->sequence)
                    ++bad;
                last = sequence;
                ++pulls;
            }
        });
    }
    for (QThread *t : threads)
        t->start();
    QRandomGenerator rng(3);
    for (int i = 0; i < 3000; ++i)
        push(engine, randomSummary(rng, 200, 5000, 30, T0 + i));
    while (pulls < 30)
        QThread::msleep(10);
    stop = true;
    for (QThread *t : threads) {
        QVERIFY(t->wait(60000));
        delete t;
    }
    QCOMPARE(bad.load(), 0);
    QCOMPARE(engine.pullJson(), engine.buildPullJson());
}

// Pulls of one state asked for together (as the server does on its worker thread) get one
// build: the same body, and the thread asking builds nothing.
void TstPullAnswer::requestsShareOneWorkerBuild()
{
    MergeEngine engine;
    QRandomGenerator rng(9);
    for (int i = 0; i < 2000; ++i)
        push(engine, randomSummary(rng, 300, 100000, 50, T0 + i));
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    QVERIFY(!answer->ready(PullAnswer::Encoding::Gzip));
    const PullAnswer::Counters before = answer->counters();
    QSemaphore done;
    std::vector<PullAnswer::BodyPtr> got(8);
    for (int i = 0; i < 8; ++i) {
        answer->request(i % 2 ? PullAnswer::Encoding::Gzip : PullAnswer::Encoding::Plain,
                        [&got, &done, i](PullAnswer::BodyPtr body) {
                            got[size_t(i)] = std::move(body);
                            done.release();
                        });
    }
    QVERIFY(done.tryAcquire(8, 60000));
    answer->waitForIdle();
    const PullAnswer::Counters after = answer->counters();
    // One plain and one gzip answer built, whatever the timing.
    QCOMPARE(after.answersBuilt - before.answersBuilt, qint64(2));
    QVERIFY(after.workerBuilds - before.workerBuilds >= 1);
    for (int i = 2; i < 8; ++i)
        QCOMPARE(got[size_t(i)].get(), got[size_t(i % 2)].get());
    QCOMPARE(got[0]->joined(), engine.buildPullJson());
    bool ok = false;
    QCOMPARE(gunzip(got[1]->joined(), &ok), engine.buildPullJson());
    QVERIFY(ok);
    QCOMPARE(got[0]->sequence, engine.sequence());
    // Built now: answered at once, on the asking thread.
    QVERIFY(answer->ready(PullAnswer::Encoding::Plain).get() == got[0].get());
    PullAnswer::BodyPtr atOnce;
    answer->request(PullAnswer::Encoding::Gzip,
                    [&atOnce](PullAnswer::BodyPtr body) { atOnce = std::move(body); });
    QVERIFY(atOnce.get() == got[1].get());

    // A change after: the next request builds again, re-joining only what it touched.
    Summary s;
    s.agentId = u"agent-1"_s;
    s.timestamp = T0 + 5000;
    s.factHashes = {u"fresh-fact"_s};
    push(engine, s);
    QVERIFY(!engine.answer()->ready(PullAnswer::Encoding::Plain));
    const PullAnswer::BodyPtr next = viaWorker(*answer, PullAnswer::Encoding::Plain);
    QVERIFY(next.get() != got[0].get());
    QCOMPARE(next->joined(), engine.buildPullJson());
    QCOMPARE(next->sequence, engine.sequence());
}

// GET /facts?q= finds what QString::contains(Qt::CaseInsensitive) finds, whatever the
// case and script of the facts and the needle (the lower-case ASCII fast path included).
void TstPullAnswer::searchAsQStringContains()
{
    const QStringList facts = {u"abc"_s,
                               u"ABC-x"_s,
                               u"xAbC"_s,
                               u"\u00c4rger"_s,
                               u"\u00e4rger abc"_s,
                               u"stra\u00dfe"_s,
                               u"kelvin-\u212a"_s,
                               u"k"_s,
                               u"0000ff"_s,
                               u"e3b0c44298fc"_s,
                               u"\U0001F600x"_s,
                               u"tab\tABC"_s,
                               u"Daily standup"_s};
    MergeEngine engine;
    Summary s;
    s.agentId = u"a"_s;
    s.timestamp = 1;
    s.factHashes = facts;
    push(engine, s);
    std::vector<QString> sorted(facts.begin(), facts.end());
    std::sort(sorted.begin(), sorted.end(), agmem::CodePointLess{});
    for (const QString &needle :
         {u"abc"_s, u"ABC"_s, u"aBc"_s, u"\u00e4"_s, u"\u00c4RG"_s, u"k"_s, u"K"_s, u"\u212a"_s,
          u"\u00df"_s, u"0000"_s, u"daily S"_s, u"\U0001F600"_s, u"\t"_s, u"zzz"_s}) {
        std::vector<QString> expected;
        for (const QString &fact : sorted) {
            if (fact.contains(needle, Qt::CaseInsensitive))
                expected.push_back(fact);
        }
        const agmem::PullAnswer::FactsPage found = engine.answer()->facts(0, 100, needle);
        QCOMPARE(found.facts, expected);
        QCOMPARE(found.total, qint64(expected.size()));
    }
}

QTEST_APPLESS_MAIN(TstPullAnswer)

#include "tst_pullanswer.moc"
