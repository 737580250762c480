#include "exportcommand.h"

#include "server/platform.h"
#include "store/exporter.h"

#include <QFile>
#include <QTextStream>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace agmem {

namespace {

std::atomic<bool> interrupted{false};

void onInterrupt(int)
{
    interrupted.store(true);
}

QString unitOf(ExportWhat what, qint64 records)
{
    const bool one = records == 1;
    switch (what) {
    case ExportWhat::Merged:
        return one ? QStringLiteral("topic or fact") : QStringLiteral("topics and facts");
    case ExportWhat::Agents:
        return one ? QStringLiteral("agent") : QStringLiteral("agents");
    case ExportWhat::History:
        return one ? QStringLiteral("push") : QStringLiteral("pushes");
    }
    return {};
}

} // namespace

int runExportCommand(const AppOptions &options)
{
    QTextStream err(stderr);
    const QString usage = QStringLiteral(
        "usage: agmem-coordinator export [--what merged|agents|history] [--format json|csv] "
        "[--out FILE|-] [--db URL]");
    if (!options.arguments.isEmpty()) {
        err << usage << Qt::endl;
        return 2;
    }
    const std::optional<ExportWhat> what = exportWhatFromName(options.exportWhat.trimmed());
    if (!what) {
        err << "agmem-coordinator: --what: expected merged, agents or history, got \""
            << options.exportWhat.left(40) << '"' << Qt::endl;
        return 2;
    }
    const std::optional<ExportFormat> format = exportFormatFromName(options.exportFormat.trimmed());
    if (!format) {
        err << "agmem-coordinator: --format: expected json or csv, got \""
            << options.exportFormat.left(40) << '"' << Qt::endl;
        return 2;
    }
    const QString out = options.exportOut;
    if (out.isEmpty()) {
        err << "agmem-coordinator: --out: expected a file name, or - for standard output"
            << Qt::endl;
        return 2;
    }
    if (options.server.store.kind == StoreUrl::Kind::SqliteMemory) {
        err << "agmem-coordinator: export needs a database that outlives a process, not :memory:"
            << Qt::endl;
        return 2;
    }

    StoreOptions storeOptions = options.server.storeOptions;
    storeOptions.readOnly = true;
    QString error;
    const std::unique_ptr<Store> store = Store::open(options.server.store, storeOptions, &error);
    if (!store) {
        err << "agmem-coordinator: " << error << Qt::endl;
        return 1;
    }

    // Ctrl+C and SIGTERM cancel: the progress callback sees the flag after the batch in
    // hand, and the half-written temporary file is removed.
    interrupted.store(false);
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    const bool showProgress = out != u"-" && platform::stderrIsTerminal();
    Exporter exporter(*store);
    exporter.setProgress([&err, showProgress](qint64 done, qint64 total) {
        if (showProgress && total > 0)
            err << "\rexporting: " << done << " of " << total << Qt::flush;
        return !interrupted.load();
    });

    ExportResult result;
    if (out == u"-") {
        // Bytes as written: no CRLF translation of the JSON lines or the CSV's CRLFs.
        platform::setStdoutBinary();
        QFile standardOutput;
        if (!standardOutput.open(stdout, QIODevice::WriteOnly)) {
            err << "agmem-coordinator: cannot write to standard output: "
                << standardOutput.errorString() << Qt::endl;
            return 1;
        }
        result = exporter.write(*what, *format, &standardOutput);
        if (result.ok && !standardOutput.flush()) {
            result.ok = false;
            result.error = QStringLiteral("cannot write to standard output: %1")
                               .arg(standardOutput.errorString());
        }
    } else {
        result = exporter.writeFile(*what, *format, out);
    }
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (showProgress)
        err << '\r' << QString(40, u' ') << '\r' << Qt::flush;
    if (!result.ok) {
        err << "agmem-coordinator: export: "
            << (!result.cancelled ? result.error
                : out == u"-"     ? QStringLiteral("interrupted")
                                  : QStringLiteral("interrupted; %1 was not written").arg(out))
            << Qt::endl;
        return result.cancelled ? 130 : 1;
    }
    // A summary line, never on standard output when the export went there.
    const QString summary = QStringLiteral("exported %1 as %2 to %3: %4 %5, %6 bytes")
                                .arg(exportWhatName(*what), exportFormatName(*format),
                                     out == u"-" ? QStringLiteral("standard output") : out)
                                .arg(result.records)
                                .arg(unitOf(*what, result.records))
                                .arg(result.bytes);
    if (out == u"-") {
        err << summary << Qt::endl;
    } else {
        QTextStream stdoutStream(stdout);
        stdoutStream << summary << Qt::endl;
    }
    return 0;
}

} // namespace agmem
