// The write side alone: CPU per push of CoordinatorWriter::commitPushes over a real SQLite
// file, in batches of a fixed size, without HTTP or threads (so the batch size does not
// depend on scheduling). Pushes as bench/push.lua sends them (1000 agents, each push newer).
//
//   writer_bench [--pushes N] [--batch B] [--agents A] [--durability full|normal] [--dir D]
//
// Prints thread CPU time (user + system, fsync included) per 1000 pushes. A benchmark: it
// reports numbers, it passes or fails nothing.

#include "core/mergeengine.h"
#include "store/coordinatorwriter.h"
#include "store/store.h"
#include "store/storeurl.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QTemporaryDir>
#include <QTextStream>

#include <ctime>

using namespace agmem;
using namespace Qt::StringLiterals;

namespace {

double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

PushRequest pushNumber(qint64 counter, int agents)
{
    PushRequest p;
    p.summary.agentId =
        QStringLiteral("agent-%1").arg((counter * 7919) % agents, 16, 16, QLatin1Char('0'));
    p.summary.timestamp = qint64(1'795'000'000) * 1'000'000 + counter;
    p.summary.topicCounts = {{QStringLiteral("episodic"), counter % 7},
                             {QStringLiteral("semantic"), counter % 11}};
    p.summary.factHashes = {QStringLiteral("Daily standup"), QStringLiteral("python"),
                            QStringLiteral("fact-%1").arg(counter % 5000)};
    p.receivedAt = p.summary.timestamp + 5;
    p.source = QStringLiteral("127.0.0.1");
    return p;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOptions({{u"pushes"_s, u"Pushes to commit."_s, u"n"_s, u"20000"_s},
                       {u"batch"_s, u"Pushes per commitPushes() call."_s, u"n"_s, u"8"_s},
                       {u"agents"_s, u"Distinct agents."_s, u"n"_s, u"1000"_s},
                       {u"durability"_s, u"full or normal."_s, u"d"_s, u"full"_s},
                       {u"dir"_s, u"Folder of the database file (default: temporary)."_s, u"d"_s}});
    parser.process(app);
    const qint64 total = parser.value(u"pushes"_s).toLongLong();
    const int batch = qMax(1, parser.value(u"batch"_s).toInt());
    const int agents = qMax(1, parser.value(u"agents"_s).toInt());
    QTemporaryDir tmp(parser.isSet(u"dir"_s) ? parser.value(u"dir"_s) + u"/writer-bench-XXXXXX"_s
                                             : QDir::tempPath() + u"/writer-bench-XXXXXX"_s);
    StoreOptions options;
    options.durability =
        parser.value(u"durability"_s) == u"normal"_s ? Durability::Normal : Durability::Full;
    QString error;
    const auto url = StoreUrl::parse(u"sqlite://"_s + tmp.filePath(u"bench.db"_s), &error);
    if (!url) {
        QTextStream(stderr) << error << "\n";
        return 1;
    }
    auto writer = CoordinatorWriter::open(*url, options, MergeMode::Latest, {}, &error);
    if (!writer) {
        QTextStream(stderr) << error << "\n";
        return 1;
    }
    // Every agent once first, so the measured pushes update existing rows (as under load).
    qint64 counter = 0;
    auto run = [&](qint64 pushes) {
        qint64 stored = 0;
        while (pushes > 0) {
            QList<PushRequest> requests;
            for (int i = 0; i < batch && pushes > 0; ++i, --pushes)
                requests.append(pushNumber(++counter, agents));
            for (const PushOutcome &o : writer->commitPushes(requests))
                stored += o.stored() ? 1 : 0;
        }
        return stored;
    };
    run(agents);
    const double start = threadCpuMs();
    const qint64 stored = run(total);
    const double ms = threadCpuMs() - start;
    QTextStream(stdout) << "pushes " << total << " stored " << stored << " batch " << batch
                        << " durability " << parser.value(u"durability"_s) << ": "
                        << QString::number(ms * 1000.0 / double(total), 'f', 1)
                        << " ms CPU per 1000 pushes\n";
    return stored == total ? 0 : 1;
}
