#include "exportdialog.h"
#include "ui_exportdialog.h"

#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QLocale>
#include <QStandardPaths>
#include <QThread>

#include <atomic>
#include <utility>

namespace agmem {

// What the worker thread and the dialog share: the cancel flag, and the result (written
// by the worker, read after its thread finished).
struct ExportDialog::Job
{
    std::atomic<bool> cancel{false};
    ExportWhat what = ExportWhat::Merged;
    QString path;
    ExportResult result;
};

ExportDialog::ExportDialog(const StoreUrl &store, QWidget *parent)
    : QDialog(parent)
    , m_ui(std::make_unique<Ui::ExportDialog>())
    , m_store(store)
{
    m_ui->setupUi(this);
    fillChoices();
    m_ui->progressBar->setRange(0, 1000);
    m_ui->progressBar->setValue(0);
    m_ui->progressBar->hide();
    onChoiceChanged();

    connect(m_ui->whatCombo, &QComboBox::currentIndexChanged, this, &ExportDialog::onChoiceChanged);
    connect(m_ui->formatCombo, &QComboBox::currentIndexChanged, this,
            &ExportDialog::onChoiceChanged);
    connect(m_ui->fileEdit, &QLineEdit::textChanged, this, &ExportDialog::updateButtons);
    connect(m_ui->browseButton, &QPushButton::clicked, this, &ExportDialog::onBrowse);
    connect(m_ui->exportButton, &QPushButton::clicked, this,
            [this] { startExport(what(), format(), path()); });
    connect(m_ui->cancelButton, &QPushButton::clicked, this, &ExportDialog::cancelExport);
    connect(m_ui->closeButton, &QPushButton::clicked, this, &ExportDialog::reject);
    updateButtons();
}

ExportDialog::~ExportDialog()
{
    if (m_thread) {
        m_job->cancel.store(true);
        m_thread->wait();
        delete m_thread;
    }
}

void ExportDialog::fillChoices()
{
    const int what = qMax(0, m_ui->whatCombo->currentIndex());
    const int format = qMax(0, m_ui->formatCombo->currentIndex());
    const QSignalBlocker blockWhat(m_ui->whatCombo);
    const QSignalBlocker blockFormat(m_ui->formatCombo);
    m_ui->whatCombo->clear();
    m_ui->whatCombo->addItem(tr("Merged view (as /pull answers it)"),
                             QVariant::fromValue(int(ExportWhat::Merged)));
    m_ui->whatCombo->addItem(tr("Agents"), QVariant::fromValue(int(ExportWhat::Agents)));
    m_ui->whatCombo->addItem(tr("History (every push)"),
                             QVariant::fromValue(int(ExportWhat::History)));
    m_ui->formatCombo->clear();
    m_ui->formatCombo->addItem(tr("JSON"), QVariant::fromValue(int(ExportFormat::Json)));
    m_ui->formatCombo->addItem(tr("CSV"), QVariant::fromValue(int(ExportFormat::Csv)));
    m_ui->whatCombo->setCurrentIndex(what);
    m_ui->formatCombo->setCurrentIndex(format);
}

ExportWhat ExportDialog::what() const
{
    return ExportWhat(m_ui->whatCombo->currentData().toInt());
}

ExportFormat ExportDialog::format() const
{
    return ExportFormat(m_ui->formatCombo->currentData().toInt());
}

QString ExportDialog::path() const
{
    return m_ui->fileEdit->text().trimmed();
}

QString ExportDialog::suggestedFileName(ExportWhat what, ExportFormat format)
{
    QString extension = exportFormatName(format);
    if (what == ExportWhat::History && format == ExportFormat::Json)
        extension = QStringLiteral("jsonl");
    return QStringLiteral("agmem-%1.%2").arg(exportWhatName(what), extension);
}

void ExportDialog::onChoiceChanged()
{
    const ExportWhat w = what();
    const ExportFormat f = format();
    QString hint;
    switch (w) {
    case ExportWhat::Merged:
        hint = f == ExportFormat::Json
                   ? tr("Exactly the answer of GET /pull: merged topic counts, unique facts, "
                        "contributing agents.")
                   : tr("One table: kind (topic or fact), name, count (merged count of a topic, "
                        "number of agents holding a fact).");
        break;
    case ExportWhat::Agents:
        hint = tr("Per agent: id, first and last seen (UTC), pushes, topics and facts of its "
                  "current summary.");
        break;
    case ExportWhat::History:
        hint = f == ExportFormat::Json
                   ? tr("JSON lines: one push per line, oldest first, with its topic counts, "
                        "facts and metadata.")
                   : tr("One row per push, oldest first: agent, timestamps, source and the "
                        "numbers of its topics and facts.");
        break;
    }
    if (f == ExportFormat::Csv)
        hint += u' ' + tr("Text starting with = + - or @ gets a leading apostrophe, so "
                          "spreadsheets do not run it as a formula.");
    m_ui->formatHint->setText(hint);

    // Propose a file name for the choice, unless the person typed one of their own.
    const QString current = path();
    if (current.isEmpty() || current == m_suggestedPath) {
        QString folder = m_suggestedPath.isEmpty()
                             ? QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation)
                             : QFileInfo(m_suggestedPath).absolutePath();
        // A fresh account may have no Documents folder yet: propose the home folder then.
        if (folder.isEmpty() || !QFileInfo(folder).isDir())
            folder = QDir::homePath();
        m_suggestedPath = QDir(folder).filePath(suggestedFileName(w, f));
        m_ui->fileEdit->setText(QDir::toNativeSeparators(m_suggestedPath));
        m_suggestedPath = path();
    }
}

void ExportDialog::onBrowse()
{
    QString filter;
    if (format() == ExportFormat::Csv)
        filter = tr("CSV files (*.csv)");
    else if (what() == ExportWhat::History)
        filter = tr("JSON lines (*.jsonl *.json)");
    else
        filter = tr("JSON files (*.json)");
    filter += QStringLiteral(";;") + tr("All files (*)");
    const QString chosen = QFileDialog::getSaveFileName(this, tr("Export to"), path(), filter);
    if (!chosen.isEmpty())
        m_ui->fileEdit->setText(QDir::toNativeSeparators(chosen));
}

bool ExportDialog::startExport(ExportWhat what, ExportFormat format, const QString &path)
{
    if (m_thread)
        return false;
    if (path.trimmed().isEmpty()) {
        m_ui->statusLabel->setText(tr("Choose a file to export to."));
        return false;
    }
    auto job = std::make_shared<Job>();
    job->what = what;
    job->path = QDir::fromNativeSeparators(path.trimmed());
    m_job = job;
    const StoreUrl store = m_store;
    const int batchSize = m_batchSize;
    // The worker opens and closes its store on its own thread (QSqlDatabase's rule).
    m_thread = QThread::create([this, job, store, what, format, batchSize] {
        StoreOptions options;
        options.readOnly = true;
        QString error;
        const std::unique_ptr<Store> reader = Store::open(store, options, &error);
        if (!reader) {
            job->result.error = error;
            return;
        }
        Exporter exporter(*reader);
        exporter.setBatchSize(batchSize);
        exporter.setProgress([this, job](qint64 done, qint64 total) {
            // Delivered in the window's thread; the dialog outlives the thread.
            QMetaObject::invokeMethod(
                this, [this, done, total] { onProgress(done, total); }, Qt::QueuedConnection);
            return !job->cancel.load();
        });
        job->result = exporter.writeFile(what, format, job->path);
    });
    m_thread->setObjectName(QStringLiteral("agmem-export"));
    connect(m_thread, &QThread::finished, this, &ExportDialog::onWorkerFinished);
    m_ui->progressBar->setValue(0);
    m_ui->progressBar->show();
    m_ui->statusLabel->setText(tr("Exporting…"));
    m_thread->start(QThread::LowPriority);
    updateButtons();
    return true;
}

void ExportDialog::cancelExport()
{
    if (!m_thread)
        return;
    m_job->cancel.store(true);
    m_ui->statusLabel->setText(tr("Cancelling…"));
    m_ui->cancelButton->setEnabled(false);
}

void ExportDialog::reject()
{
    if (m_thread) {
        // Closing while an export runs: stop it, then close.
        m_closeWhenDone = true;
        cancelExport();
        return;
    }
    QDialog::reject();
}

void ExportDialog::onProgress(qint64 done, qint64 total)
{
    if (!m_thread)
        return; // a late report of an export that ended
    m_ui->progressBar->setValue(total > 0 ? int(qMin<qint64>(1000, done * 1000 / total)) : 0);
    if (!m_job->cancel.load()) {
        const QLocale locale;
        m_ui->statusLabel->setText(
            tr("Exporting… %1 of %2").arg(locale.toString(done), locale.toString(total)));
    }
    Q_EMIT progressChanged(done, total);
}

void ExportDialog::onWorkerFinished()
{
    m_thread->wait();
    delete m_thread;
    m_thread = nullptr;
    const std::shared_ptr<Job> job = std::exchange(m_job, nullptr);
    const ExportResult &result = job->result;
    QString message;
    if (result.ok) {
        m_ui->progressBar->setValue(1000);
        message = tr("Exported to %1. %2 · Bytes: %3")
                      .arg(QDir::toNativeSeparators(job->path), describe(job->what, result.records),
                           QLocale().toString(result.bytes));
    } else if (result.cancelled) {
        m_ui->progressBar->hide();
        message = tr("Export cancelled; no file was written.");
    } else {
        m_ui->progressBar->hide();
        message = tr("Export failed: %1").arg(result.error);
    }
    m_ui->statusLabel->setText(message);
    updateButtons();
    Q_EMIT finished(result.ok, message);
    if (std::exchange(m_closeWhenDone, false))
        QDialog::reject();
}

QString ExportDialog::describe(ExportWhat what, qint64 records) const
{
    // Labels before the numbers: no plural forms needed.
    const QString n = QLocale().toString(records);
    switch (what) {
    case ExportWhat::Merged:
        return tr("Topics and facts: %1").arg(n);
    case ExportWhat::Agents:
        return tr("Agents: %1").arg(n);
    case ExportWhat::History:
        return tr("Pushes: %1").arg(n);
    }
    return {};
}

void ExportDialog::updateButtons()
{
    const bool running = m_thread != nullptr;
    m_ui->exportButton->setEnabled(!running && !path().isEmpty());
    m_ui->cancelButton->setEnabled(running && m_job && !m_job->cancel.load());
    m_ui->whatCombo->setEnabled(!running);
    m_ui->formatCombo->setEnabled(!running);
    m_ui->fileEdit->setEnabled(!running);
    m_ui->browseButton->setEnabled(!running);
}

void ExportDialog::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::LanguageChange) {
        m_ui->retranslateUi(this);
        fillChoices();
        onChoiceChanged();
    }
    QDialog::changeEvent(event);
}

} // namespace agmem
