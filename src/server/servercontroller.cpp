#include "servercontroller.h"

#include "coordinatorapi.h"
#include "platform.h"
#include "tlsfiles.h"

#include "core/logging.h"

#include <QEventLoop>
#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>

namespace agmem {

namespace {

// Never falls back to plain HTTP: any problem with the files is an error.
std::optional<QSslConfiguration> loadTls(const ServerConfig &config, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error =
            QStringLiteral("TLS is not available: %1").arg(QSslSocket::sslLibraryVersionString());
        return std::nullopt;
    }
    if (config.tlsCertificate.isEmpty() || config.tlsKey.isEmpty()) {
        *error = QStringLiteral("TLS needs both --tls-cert and --tls-key");
        return std::nullopt;
    }
    const TlsFiles files = readTlsFiles(config.tlsCertificate, config.tlsKey);
    switch (files.problem) {
    case TlsFiles::Problem::None:
        break;
    case TlsFiles::Problem::CannotReadCertificate:
        *error = QStringLiteral("cannot read the TLS certificate %1: %2")
                     .arg(config.tlsCertificate, files.fileError);
        return std::nullopt;
    case TlsFiles::Problem::NoCertificate:
        *error = QStringLiteral("%1 holds no PEM certificate").arg(config.tlsCertificate);
        return std::nullopt;
    case TlsFiles::Problem::CannotReadKey:
        *error =
            QStringLiteral("cannot read the TLS key %1: %2").arg(config.tlsKey, files.fileError);
        return std::nullopt;
    case TlsFiles::Problem::NoKey:
        *error = QStringLiteral("%1 holds no unencrypted PEM private key").arg(config.tlsKey);
        return std::nullopt;
    case TlsFiles::Problem::KeyMismatch:
        *error = QStringLiteral("the TLS key %1 does not belong to the certificate %2 (%3); "
                                "give the key the certificate was made for")
                     .arg(config.tlsKey, config.tlsCertificate, files.fileError);
        return std::nullopt;
    }
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setLocalCertificateChain(files.chain);
    tls.setPrivateKey(files.key);
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    tls.setProtocol(QSsl::TlsV1_2OrLater);
    return tls;
}

} // namespace

// Lives in the server thread: owns the store connection, the API and the listener.
class ServerWorker : public QObject
{
    Q_OBJECT

public:
    void start(const ServerConfig &config)
    {
        if (m_server) {
            Q_EMIT failed(QStringLiteral("the server is already running"));
            return;
        }
        QString error;
        std::optional<QSslConfiguration> tls;
        if (!config.tlsCertificate.isEmpty() || !config.tlsKey.isEmpty()) {
            tls = loadTls(config, &error);
            if (!tls) {
                Q_EMIT failed(error);
                return;
            }
        }
        // A busy port fails the start before the store is opened, so a failed start leaves
        // no new database file behind. (The real listen below can still lose a race.)
        if (QTcpServer probe; !probe.listen(config.host, config.port)) {
            Q_EMIT failed(QStringLiteral("cannot listen on %1 port %2: %3")
                              .arg(config.host.toString())
                              .arg(config.port)
                              .arg(probe.errorString()));
            return;
        }
        m_api = CoordinatorApi::create(config, &error);
        if (!m_api) {
            Q_EMIT failed(error);
            return;
        }
        ConnectionLimits limits = config.connection;
        limits.maxBodyBytes = config.limits.maxBodyBytes;
        // The cap stays below the descriptor limit, so accept() never fails first.
        if (const qint64 files = platform::raiseOpenFileLimit(); files > 0) {
            const qint64 room = std::max<qint64>(1, files - ReservedFiles);
            if (limits.maxConnections > room) {
                qCWarning(lcServer).noquote()
                    << "the open-file limit is" << files << "- at most" << room
                    << "connections instead of" << limits.maxConnections;
                limits.maxConnections = int(room);
            }
        }
        m_server = new ApiServer(m_api.get(), limits, config.accessLog);
        if (!m_server->listen(config.host, config.port, &error, tls)) {
            delete m_server;
            m_server = nullptr;
            m_api.reset();
            Q_EMIT failed(error);
            return;
        }
        connect(m_server, &ApiServer::requestFinished, this, &ServerWorker::collect);
        connect(m_api.get(), &CoordinatorApi::mergeChanged, this, [this](quint64 sequence) {
            m_changedSequence = sequence;
            if (!m_eventTimer.isActive())
                m_eventTimer.start();
        });
        QUrl url;
        url.setScheme(tls ? QStringLiteral("https") : QStringLiteral("http"));
        url.setHost(config.host.toString());
        url.setPort(m_server->port());
        qCInfo(lcServer).noquote()
            << "listening on" << url.toString() << "with store" << config.store.displayName()
            << "merge mode" << mergeModeName(config.mergeMode);
        const bool exposed = !config.host.isLoopback() && !m_api->access().keysRequired();
        if (exposed) {
            qCWarning(lcServer).noquote()
                << "WARNING: listening on" << config.host.toString()
                << "without requiring an API key: anyone who can reach this address can push, "
                   "pull and fill the database. Create a key (agmem-coordinator keys create "
                   "NAME) or use --auth required.";
        }
        Q_EMIT loaded(m_api->writer().read(
            [](const MergeEngine &engine, const WriterTotals &) { return engine.snapshot(); }));
        Q_EMIT started(url, exposed);
    }

    void refreshKeys()
    {
        if (m_api)
            m_api->access().refreshKeys(true);
    }

    void stop()
    {
        if (m_server) {
            m_server->shutdown();
            delete m_server;
            m_server = nullptr;
        }
        m_api.reset(); // closes the store
        m_eventTimer.stop();
        emitEvents();
        Q_EMIT stopped();
    }

    ServerWorker()
    {
        m_eventTimer.setSingleShot(true);
        m_eventTimer.setInterval(EventIntervalMs);
        connect(&m_eventTimer, &QTimer::timeout, this, &ServerWorker::emitEvents);
    }
    ~ServerWorker() override { stop(); }

    qsizetype connectionEntries() const { return m_server ? m_server->connectionEntries() : 0; }

Q_SIGNALS:
    void started(const QUrl &url, bool exposedWithoutKey);
    void failed(const QString &error);
    void stopped();
    void requestsFinished(const QList<agmem::RequestEvent> &events);
    void mergeChanged(quint64 sequence);
    void loaded(const agmem::AgentsSnapshotPtr &snapshot);

private:
    // Requests are reported in batches: a queued signal per request would wake the
    // receiving thread thousands of times a second under load.
    void collect(const RequestEvent &event)
    {
        if (m_events.size() < MaxEventsPerBatch)
            m_events.append(event);
        else
            ++m_droppedEvents;
        if (!m_eventTimer.isActive())
            m_eventTimer.start();
    }
    void emitEvents()
    {
        if (m_droppedEvents) {
            qCDebug(lcServer) << m_droppedEvents << "request events not reported (too many)";
            m_droppedEvents = 0;
        }
        if (!m_events.isEmpty()) {
            // The next batch starts with room for one as large (no growth step by step).
            const qsizetype size = m_events.size();
            Q_EMIT requestsFinished(std::exchange(m_events, {}));
            m_events.reserve(size);
        }
        if (m_changedSequence)
            Q_EMIT mergeChanged(*std::exchange(m_changedSequence, std::nullopt));
    }

    // Descriptors kept for the store, logs and TLS files besides connections.
    static constexpr int ReservedFiles = 64;
    static constexpr int EventIntervalMs = 100;
    static constexpr int MaxEventsPerBatch = 2000;
    QList<RequestEvent> m_events;
    std::optional<quint64> m_changedSequence;
    qint64 m_droppedEvents = 0;
    // A child, so moveToThread() takes it to the server thread with the worker (started
    // from there otherwise: "Timers cannot be started from another thread").
    QTimer m_eventTimer{this};

    std::unique_ptr<CoordinatorApi> m_api;
    ApiServer *m_server = nullptr;
};

qsizetype ServerController::connectionEntries() const
{
    qsizetype entries = 0;
    QMetaObject::invokeMethod(
        m_worker, [this] { return m_worker->connectionEntries(); }, Qt::BlockingQueuedConnection,
        &entries);
    return entries;
}

ServerController::ServerController(QObject *parent)
    : QObject(parent)
    , m_worker(new ServerWorker)
{
    qRegisterMetaType<agmem::RequestEvent>();
    qRegisterMetaType<agmem::AgentsSnapshotPtr>();
    m_thread.setObjectName(QStringLiteral("agmem-server"));
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &ServerWorker::started, this, &ServerController::onStarted);
    connect(m_worker, &ServerWorker::failed, this, &ServerController::onFailed);
    connect(m_worker, &ServerWorker::stopped, this, &ServerController::onStopped);
    connect(m_worker, &ServerWorker::requestsFinished, this, &ServerController::requestsFinished);
    connect(m_worker, &ServerWorker::mergeChanged, this, &ServerController::mergeChanged);
    connect(m_worker, &ServerWorker::loaded, this, &ServerController::loaded);
    m_thread.start();
}

ServerController::~ServerController()
{
    // Stop in the server thread, then let the worker be deleted there.
    QMetaObject::invokeMethod(m_worker, &ServerWorker::stop, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
}

void ServerController::start(const ServerConfig &config)
{
    if (m_state == State::Starting || m_state == State::Listening)
        return;
    m_state = State::Starting;
    m_lastError.clear();
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, config] { worker->start(config); }, Qt::QueuedConnection);
}

void ServerController::refreshKeys()
{
    QMetaObject::invokeMethod(m_worker, &ServerWorker::refreshKeys, Qt::QueuedConnection);
}

void ServerController::stop()
{
    if (m_state == State::Stopped || m_state == State::Stopping)
        return;
    m_state = State::Stopping;
    QMetaObject::invokeMethod(m_worker, &ServerWorker::stop, Qt::QueuedConnection);
}

bool ServerController::startAndWait(const ServerConfig &config, QString *error)
{
    QEventLoop loop;
    connect(this, &ServerController::started, &loop, &QEventLoop::quit);
    connect(this, &ServerController::failed, &loop, &QEventLoop::quit);
    start(config);
    if (m_state == State::Starting)
        loop.exec();
    if (m_state != State::Listening) {
        if (error)
            *error = m_lastError;
        return false;
    }
    return true;
}

void ServerController::stopAndWait()
{
    QEventLoop loop;
    connect(this, &ServerController::stopped, &loop, &QEventLoop::quit);
    stop();
    if (m_state == State::Stopping)
        loop.exec();
}

void ServerController::onStarted(const QUrl &url, bool exposedWithoutKey)
{
    m_state = State::Listening;
    m_url = url;
    m_exposedWithoutKey = exposedWithoutKey;
    Q_EMIT started(url);
}

void ServerController::onFailed(const QString &error)
{
    m_state = State::Stopped;
    m_lastError = error;
    // Not a warning: whoever started the server reports the failure (headless mode prints
    // it once on stderr, the window shows it); logging it too said everything twice.
    qCDebug(lcServer).noquote() << "start failed:" << error;
    Q_EMIT failed(error);
}

void ServerController::onStopped()
{
    if (m_state == State::Stopped)
        return;
    m_state = State::Stopped;
    m_url.clear();
    Q_EMIT stopped();
}

} // namespace agmem

#include "servercontroller.moc"
