#include "servercontroller.h"

#include "coordinatorapi.h"

#include "core/logging.h"

#include <QEventLoop>

namespace agmem {

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
        m_api = CoordinatorApi::create(config, &error);
        if (!m_api) {
            Q_EMIT failed(error);
            return;
        }
        ConnectionLimits limits = config.connection;
        limits.maxBodyBytes = config.limits.maxBodyBytes;
        m_server = new ApiServer(m_api.get(), limits, config.accessLog);
        if (!m_server->listen(config.host, config.port, &error)) {
            delete m_server;
            m_server = nullptr;
            m_api.reset();
            Q_EMIT failed(error);
            return;
        }
        connect(m_server, &ApiServer::requestFinished, this, &ServerWorker::requestFinished);
        connect(m_api.get(), &CoordinatorApi::mergeChanged, this, &ServerWorker::mergeChanged);
        QUrl url;
        url.setScheme(QStringLiteral("http"));
        url.setHost(config.host.toString());
        url.setPort(m_server->port());
        qCInfo(lcServer).noquote()
            << "listening on" << url.toString() << "with store" << config.store.displayName()
            << "merge mode" << mergeModeName(config.mergeMode);
        Q_EMIT started(url);
    }

    void stop()
    {
        if (m_server) {
            m_server->shutdown();
            delete m_server;
            m_server = nullptr;
        }
        m_api.reset(); // closes the store
        Q_EMIT stopped();
    }

    ~ServerWorker() override { stop(); }

Q_SIGNALS:
    void started(const QUrl &url);
    void failed(const QString &error);
    void stopped();
    void requestFinished(const agmem::RequestEvent &event);
    void mergeChanged(quint64 sequence);

private:
    std::unique_ptr<CoordinatorApi> m_api;
    ApiServer *m_server = nullptr;
};

ServerController::ServerController(QObject *parent)
    : QObject(parent)
    , m_worker(new ServerWorker)
{
    qRegisterMetaType<agmem::RequestEvent>();
    m_thread.setObjectName(QStringLiteral("agmem-server"));
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &ServerWorker::started, this, &ServerController::onStarted);
    connect(m_worker, &ServerWorker::failed, this, &ServerController::onFailed);
    connect(m_worker, &ServerWorker::stopped, this, &ServerController::onStopped);
    connect(m_worker, &ServerWorker::requestFinished, this, &ServerController::requestFinished);
    connect(m_worker, &ServerWorker::mergeChanged, this, &ServerController::mergeChanged);
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

void ServerController::onStarted(const QUrl &url)
{
    m_state = State::Listening;
    m_url = url;
    Q_EMIT started(url);
}

void ServerController::onFailed(const QString &error)
{
    m_state = State::Stopped;
    m_lastError = error;
    qCWarning(lcServer).noquote() << error;
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
