#pragma once

#include "store.h"

#include <QByteArray>
#include <QString>
#include <QStringView>

#include <functional>
#include <optional>

class QIODevice;

namespace agmem {

// What `agmem-coordinator export` and the window's File → Export write. One implementation
// for both: the caller opens a Store (read-only is enough) on its own thread and connection,
// so an export never waits for the server nor makes it wait: every read is one short
// statement (a batch), and SQLite's WAL lets readers and the writer run side by side.
enum class ExportWhat
{
    // The merged view. JSON: byte for byte the body of GET /pull. CSV: kind,name,count.
    Merged,
    // One record per agent: agent_id, first_seen, last_seen, pushes, topics, facts.
    Agents,
    // Every accepted push in id order, as it was when the export started. JSON: JSON lines.
    History,
};

enum class ExportFormat
{
    Json,
    Csv,
};

QString exportWhatName(ExportWhat what);
std::optional<ExportWhat> exportWhatFromName(QStringView name);
QString exportFormatName(ExportFormat format);
std::optional<ExportFormat> exportFormatFromName(QStringView name);

struct ExportResult
{
    bool ok = false;
    // Stopped by the progress callback: nothing was kept.
    bool cancelled = false;
    // Records written: topics plus facts (merged), agents, or pushes (history).
    qint64 records = 0;
    qint64 bytes = 0;
    QString error;
};

// Called before the first record and after every batch with the records written so far
// and the number expected (known at the start: the history up to its newest row then).
// Return false to cancel.
using ExportProgress = std::function<bool(qint64 done, qint64 total)>;

class Exporter
{
public:
    static constexpr int DefaultBatchSize = 500;

    explicit Exporter(Store &store)
        : m_store(store)
    {}

    void setProgress(ExportProgress progress) { m_progress = std::move(progress); }
    // Rows read per statement (history, agents) and records per write (merged CSV).
    void setBatchSize(int rows) { m_batchSize = qMax(1, rows); }

    // Streams the export into an open device. On failure or cancel, what was written
    // already stays in the device: writeFile() keeps nothing then.
    ExportResult write(ExportWhat what, ExportFormat format, QIODevice *device);
    // Writes a file through QSaveFile: only a complete export replaces `path`; a cancelled
    // or failed one leaves no file and an existing file as it was.
    ExportResult writeFile(ExportWhat what, ExportFormat format, const QString &path);

    // One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF, quotes
    // doubled. `userText` (topics, facts, agent ids, sources): a value starting with
    // = + - @ TAB or CR gets a leading apostrophe, so a spreadsheet shows it as text
    // instead of running it as a formula.
    static QByteArray csvField(QStringView text, bool userText);

private:
    bool report(qint64 done, qint64 total);
    bool put(QIODevice *device, const QByteArray &bytes, ExportResult &result);
    ExportResult writeMerged(ExportFormat format, QIODevice *device);
    ExportResult writeAgents(ExportFormat format, QIODevice *device);
    ExportResult writeHistory(ExportFormat format, QIODevice *device);

    Store &m_store;
    ExportProgress m_progress;
    int m_batchSize = DefaultBatchSize;
};

} // namespace agmem
