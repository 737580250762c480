#pragma once

#include "store/exporter.h"
#include "store/storeurl.h"

#include <QDialog>

#include <memory>

class QThread;

namespace Ui {
class ExportDialog;
}

namespace agmem {

// File → Export: the merged view, the agents or the history as JSON or CSV (the same
// store/exporter.h as `agmem-coordinator export`). The export runs on a worker thread with
// a read-only store connection of its own, so neither the window nor the server waits for
// it; progress shows as it goes and Cancel leaves no file (an existing one unchanged).
class ExportDialog : public QDialog
{
    Q_OBJECT

public:
    explicit ExportDialog(const StoreUrl &store, QWidget *parent = nullptr);
    // Cancels a running export and waits for its thread.
    ~ExportDialog() override;

    // Starts an export in the background, as the Export button does with the choices in
    // the dialog. false (and finished() is not emitted) when one is running already or
    // `path` is empty.
    bool startExport(ExportWhat what, ExportFormat format, const QString &path);
    // Asks the running export to stop; finished(false, ...) follows.
    void cancelExport();
    bool isRunning() const { return m_thread != nullptr; }
    // Rows read per statement (tests use small batches for many progress steps).
    void setBatchSize(int rows) { m_batchSize = rows; }
    // The choices shown in the dialog.
    ExportWhat what() const;
    ExportFormat format() const;
    QString path() const;
    // The file name the dialog proposes for a choice.
    static QString suggestedFileName(ExportWhat what, ExportFormat format);

Q_SIGNALS:
    void progressChanged(qint64 done, qint64 total);
    // The export ended: written (`message` tells how many records), cancelled or failed.
    void finished(bool ok, const QString &message);

public Q_SLOTS:
    void reject() override;

protected:
    void changeEvent(QEvent *event) override;

private:
    struct Job;

    void fillChoices();
    void onChoiceChanged();
    void onBrowse();
    void onProgress(qint64 done, qint64 total);
    void onWorkerFinished();
    void updateButtons();
    QString describe(ExportWhat what, qint64 records) const;

    std::unique_ptr<Ui::ExportDialog> m_ui;
    StoreUrl m_store;
    QThread *m_thread = nullptr;
    std::shared_ptr<Job> m_job;
    int m_batchSize = Exporter::DefaultBatchSize;
    // The proposed path, replaced when the choice changes unless the person typed another.
    QString m_suggestedPath;
    bool m_closeWhenDone = false;
};

} // namespace agmem
