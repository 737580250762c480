// The maintained /pull answer alone (core/pullanswer.h): the time to build the answer right
// after a one-agent change, without HTTP or threads, in the state of bench/run.sh's change
// row (AGENTS agents x FACTS facts of 64 hex characters, three topics each; every round
// one agent pushes a new set of facts). As there, a plain pull and a gzip pull alternate,
// each after its own change; --encoding plain|gzip keeps to one.
//
//   pullbuild_bench [--agents 15700] [--facts 20] [--rounds 60] [--encoding both|plain|gzip]
//
// Prints the median and the minimum build time per encoding, and the chunks serialized,
// patched and deflated and the blocks joined per round. A benchmark: it reports numbers,
// it passes or fails nothing.

#include "core/mergeengine.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QTextStream>

#include <algorithm>
#include <vector>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

QString fact(int agent, int index, int version)
{
    const QByteArray seed = u"%1/%2/%3"_s.arg(agent).arg(index).arg(version).toUtf8();
    return QString::fromLatin1(QCryptographicHash::hash(seed, QCryptographicHash::Sha256).toHex());
}

Summary summary(int agent, int facts, int version)
{
    Summary s;
    s.agentId = u"agent-%1"_s.arg(agent, 6, 10, QChar(u'0'));
    s.timestamp = (Instant(1'735'689'600) + version) * 1'000'000;
    s.topicCounts = {{u"episodic"_s, qint64(version % 7 + 1)},
                     {u"semantic"_s, qint64(agent % 11)},
                     {u"t%1"_s.arg(agent % 50), 1}};
    for (int i = 0; i < facts; ++i)
        s.factHashes.append(fact(agent, i, version));
    return s;
}

void push(MergeEngine &engine, const Summary &s)
{
    const MergeEngine::Plan plan = engine.plan(s);
    const quint64 sequence = engine.sequence() + (plan.changesMerge() ? 1 : 0);
    engine.apply(s.agentId, plan.next, s.timestamp, sequence);
    engine.setSequence(sequence);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption agentsOption(u"agents"_s, u"Agents."_s, u"n"_s, u"15700"_s);
    const QCommandLineOption factsOption(u"facts"_s, u"Facts per agent."_s, u"n"_s, u"20"_s);
    const QCommandLineOption roundsOption(u"rounds"_s, u"Changes per encoding."_s, u"n"_s, u"60"_s);
    const QCommandLineOption encodingOption(u"encoding"_s, u"both, plain or gzip."_s, u"e"_s,
                                            u"both"_s);
    parser.addOptions({agentsOption, factsOption, roundsOption, encodingOption});
    parser.process(app);
    const int agents = qMax(1, parser.value(agentsOption).toInt());
    const int facts = qMax(0, parser.value(factsOption).toInt());
    const int rounds = qMax(1, parser.value(roundsOption).toInt());
    const QString encoding = parser.value(encodingOption);
    const bool encodings[2] = {encoding != u"gzip", encoding != u"plain"};

    MergeEngine engine;
    for (int a = 0; a < agents; ++a)
        push(engine, summary(a, facts, 0));
    const std::shared_ptr<PullAnswer> answer = engine.answer();
    answer->plain();
    answer->gzip();
    const PullAnswer::Counters before = answer->counters();

    std::vector<double> ms[2];
    int version = 1000;
    for (int r = 0; r < rounds; ++r) {
        for (int e = 0; e < 2; ++e) {
            if (!encodings[e])
                continue;
            push(engine, summary(r % agents, facts, version++));
            QElapsedTimer timer;
            timer.start();
            const PullAnswer::BodyPtr body = e ? answer->gzip() : answer->plain();
            ms[e].push_back(double(timer.nsecsElapsed()) / 1e6);
            if (body->sequence != engine.sequence())
                qFatal("the answer is not the latest");
        }
    }
    const PullAnswer::Counters after = answer->counters();

    QTextStream out(stdout);
    for (int e = 0; e < 2; ++e) {
        if (ms[e].empty())
            continue;
        std::sort(ms[e].begin(), ms[e].end());
        out << (e ? "gzip " : "plain") << " build after a change: p50 "
            << QString::number(ms[e][ms[e].size() / 2], 'f', 3) << " ms, min "
            << QString::number(ms[e].front(), 'f', 3) << " ms (" << agents << " agents x " << facts
            << " facts)\n";
    }
    const auto perRound = [&](qint64 a, qint64 b) {
        return QString::number(double(b - a) / rounds, 'f', 1);
    };
    out << "per round: chunks serialized "
        << perRound(before.chunksSerialized, after.chunksSerialized) << ", patched "
        << perRound(before.chunksPatched, after.chunksPatched) << ", deflated "
        << perRound(before.chunksDeflated, after.chunksDeflated) << ", blocks joined "
        << perRound(before.blocksJoined, after.blocksJoined) << "\n";
    return 0;
}
