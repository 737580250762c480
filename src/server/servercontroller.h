#pragma once

#include "apiserver.h"
#include "serverconfig.h"

#include <QObject>
#include <QThread>
#include <QUrl>

namespace agmem {

class ServerWorker;

// Runs the coordinator on its own thread and reports what it does. Lives in the thread
// that created it (the GUI or headless main thread); every call is non-blocking except
// the *AndWait variants, which headless mode and tests use.
class ServerController : public QObject
{
    Q_OBJECT

public:
    enum class State
    {
        Stopped,
        Starting,
        Listening,
        Stopping
    };
    Q_ENUM(State)

    explicit ServerController(QObject *parent = nullptr);
    ~ServerController() override;

    void start(const ServerConfig &config);
    void stop();
    bool startAndWait(const ServerConfig &config, QString *error);
    void stopAndWait();
    // The API keys changed in the store (created or revoked here): the running server reads
    // them again now instead of at its next periodic refresh.
    void refreshKeys();

    State state() const { return m_state; }
    QUrl url() const { return m_url; }
    quint16 port() const { return quint16(m_url.port()); }
    QString lastError() const { return m_lastError; }
    // The API server's connection entries (ApiServer::connectionEntries()), asked on the
    // server's thread; 0 when stopped. Tests; not from the server's own thread.
    qsizetype connectionEntries() const;
    // Listening beyond loopback while no API key is required: the window shows a banner.
    bool exposedWithoutKey() const { return m_exposedWithoutKey; }

Q_SIGNALS:
    void started(const QUrl &url);
    void failed(const QString &error);
    void stopped();
    // Every request answered, reported in batches (at most ~10 a second).
    void requestsFinished(const QList<agmem::RequestEvent> &events);
    // The merged view changed; coalesced like requestsFinished, with the newest sequence.
    void mergeChanged(quint64 sequence);
    // The merged view the server loaded at start, just before started(): the window's
    // reader starts from it instead of reading every agent again.
    void loaded(const agmem::AgentsSnapshotPtr &snapshot);

private:
    void onStarted(const QUrl &url, bool exposedWithoutKey);
    void onFailed(const QString &error);
    void onStopped();

    QThread m_thread;
    ServerWorker *m_worker;
    State m_state = State::Stopped;
    QUrl m_url;
    QString m_lastError;
    bool m_exposedWithoutKey = false;
};

} // namespace agmem

Q_DECLARE_METATYPE(agmem::AgentsSnapshotPtr)
