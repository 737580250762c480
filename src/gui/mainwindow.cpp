#include "mainwindow.h"
#include "ui_mainwindow.h"

#include "exportdialog.h"
#include "pushratechart.h"
#include "settingsdialog.h"
#include "stallprobe.h"

#include "core/apikey.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QFontDatabase>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QNetworkInterface>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStyle>
#include <QSystemTrayIcon>
#include <QVBoxLayout>

// The icons live in this static library: register them before the first use.
static void initGuiResources()
{
    Q_INIT_RESOURCE(agmem);
}

namespace agmem {

namespace {

constexpr int RefreshIntervalMs = 100; // at most ten refreshes a second
constexpr int MaxFactsShown = 2000;    // per agent, in the detail list
constexpr int HistoryRows = 50;

QIcon icon(const char *name)
{
    return QIcon(u":/icons/" + QLatin1String(name) + u".svg");
}

void setupTable(QTableView *view)
{
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->hide();
    view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 8);
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setHighlightSections(false);
    view->setWordWrap(false);
}

// An address other machines can use to reach this one: the first IPv4 address of an
// interface that is up and not loopback.
QString lanAddress()
{
    for (const QNetworkInterface &iface : QNetworkInterface::allInterfaces()) {
        const auto flags = iface.flags();
        if (!(flags & QNetworkInterface::IsUp) || !(flags & QNetworkInterface::IsRunning) ||
            (flags & QNetworkInterface::IsLoopBack))
            continue;
        for (const QNetworkAddressEntry &entry : iface.addressEntries()) {
            if (entry.ip().protocol() == QAbstractSocket::IPv4Protocol)
                return entry.ip().toString();
        }
    }
    return QStringLiteral("127.0.0.1");
}

} // namespace

MainWindow::MainWindow(const ServerConfig &config, QWidget *parent)
    : QMainWindow(parent)
    , m_ui(std::make_unique<Ui::MainWindow>())
    , m_config(config)
{
    initGuiResources();
    m_monotonic.start();
    // The window never waits on the database: any store use on this thread is a bug
    // (counted and logged by Store; the tests check the count).
    Store::forbidThread(thread());
    m_ui->setupUi(this);
    setWindowIcon(icon("agmem"));
    m_keysPage = new KeysPage(this);
    m_keysPage->setObjectName(QStringLiteral("keysTab"));
    m_ui->tabs->insertTab(4, m_keysPage, icon("key"), tr("API &keys"));
    m_ui->tabs->setTabIcon(0, icon("agents"));
    m_ui->tabs->setTabIcon(1, icon("topics"));
    m_ui->tabs->setTabIcon(2, icon("facts"));
    m_ui->tabs->setTabIcon(3, icon("activity"));
    m_ui->tabs->setTabIcon(5, icon("share"));
    m_ui->startButton->setIcon(icon("start"));
    m_ui->stopButton->setIcon(icon("stop"));
    m_ui->startAction->setIcon(icon("start"));
    m_ui->stopAction->setIcon(icon("stop"));
    m_ui->copySnippetButton->setIcon(icon("copy"));
    m_ui->teamKeyButton->setIcon(icon("key"));
    m_ui->quitAction->setShortcut(QKeySequence::Quit);
    // The platform's Preferences shortcut where it has one, else Ctrl+, (set in the form).
    if (const auto keys = QKeySequence::keyBindings(QKeySequence::Preferences); !keys.isEmpty())
        m_ui->settingsAction->setShortcuts(keys);

    m_ui->exposedBanner->setStyleSheet(
        QStringLiteral("QLabel { background: #c5221f; color: white; font-weight: bold;"
                       " padding: 8px; border-radius: 4px; }"));
    m_ui->exposedBanner->hide();
    m_ui->errorLabel->setStyleSheet(QStringLiteral("QLabel { color: #c5221f; }"));
    m_ui->errorLabel->hide();
    m_ui->shareSwitch->setStyleSheet(
        QStringLiteral("QCheckBox { spacing: 10px; font-weight: bold; }"
                       "QCheckBox::indicator { width: 40px; height: 22px; }"
                       "QCheckBox::indicator:unchecked { image: url(:/icons/switch-off.svg); }"
                       "QCheckBox::indicator:checked { image: url(:/icons/switch-on.svg); }"));
    m_ui->snippetEdit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_ui->hostEdit->setText(listenAddressText(m_config.host));
    m_ui->portSpin->setValue(m_config.port);
    m_ui->shareSwitch->setChecked(!m_config.host.isLoopback());

    // The reader opens its connection on its own thread: nothing here waits for the
    // database, so the window shows at once and fills in when the first snapshot arrives.
    m_reader = std::make_unique<ReaderThread>(m_config.store);
    connect(m_reader->reader(), &StoreReader::refreshed, this, &MainWindow::applyDelta);
    connect(m_reader->reader(), &StoreReader::refreshFailed, this, &MainWindow::onRefreshFailed);
    connect(m_reader->reader(), &StoreReader::agentHistoryRead, this,
            &MainWindow::showAgentHistory);
    m_pinger = std::make_unique<ReaderThread>(m_config.store);
    connect(m_pinger->reader(), &StoreReader::pinged, this, &MainWindow::onPinged);
    m_databaseBanner = new QLabel(this);
    m_databaseBanner->setObjectName(QStringLiteral("databaseBanner"));
    m_databaseBanner->setWordWrap(true);
    m_databaseBanner->setTextFormat(Qt::PlainText); // error texts may hold < and &
    m_databaseBanner->setStyleSheet(
        QStringLiteral("QLabel { background: #b06000; color: white; font-weight: bold;"
                       " padding: 8px; border-radius: 4px; }"));
    m_databaseBanner->hide();
    m_ui->centralLayout->insertWidget(1, m_databaseBanner);
    m_readerWatch.setInterval(ReaderWatchMs);
    connect(&m_readerWatch, &QTimer::timeout, this, &MainWindow::checkReader);
    m_readerWatch.start();
    m_keysPage->setReader(m_reader.get());
    m_keysPage->setConfirm([this](const QString &title, const QString &text,
                                  const QString &accept) { return confirm(title, text, accept); });
    setupViews();
    m_summaryLabel = new QLabel(this);
    m_summaryLabel->setObjectName(QStringLiteral("summaryLabel"));
    m_summaryLabel->setAccessibleName(tr("Totals"));
    statusBar()->addWidget(m_summaryLabel, 1);

    m_refreshTimer.setSingleShot(true);
    m_refreshTimer.setInterval(RefreshIntervalMs);
    connect(&m_refreshTimer, &QTimer::timeout, this, &MainWindow::refreshNow);
    // The chart asks for a refresh at each new minute and, on PostgreSQL, every few seconds:
    // other instances' pushes send no signal to this window.
    m_ui->pushRateChart->setPolling(m_config.store.kind == StoreUrl::Kind::PostgreSql);
    connect(m_ui->pushRateChart, &PushRateChart::refreshDue, this, &MainWindow::scheduleRefresh);

    connect(m_ui->startButton, &QPushButton::clicked, this, &MainWindow::startServer);
    connect(m_ui->stopButton, &QPushButton::clicked, this, &MainWindow::stopServer);
    connect(m_ui->startAction, &QAction::triggered, this, &MainWindow::startServer);
    connect(m_ui->stopAction, &QAction::triggered, this, &MainWindow::stopServer);
    connect(m_ui->hostEdit, &QLineEdit::returnPressed, this, &MainWindow::startServer);
    connect(m_ui->quitAction, &QAction::triggered, qApp, &QApplication::quit);
    connect(m_ui->exportAction, &QAction::triggered, this, [this] {
        // Its own worker thread and read-only connection: the server is not held up.
        auto *dialog = new ExportDialog(m_config.store, this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->open();
    });
    connect(m_ui->aboutAction, &QAction::triggered, this, &MainWindow::showAbout);
    connect(m_ui->settingsAction, &QAction::triggered, this, &MainWindow::showSettings);
    connect(m_ui->copyUrlAction, &QAction::triggered, this, [this] {
        if (m_controller.state() == ServerController::State::Listening)
            QGuiApplication::clipboard()->setText(m_controller.url().toString());
    });
    connect(m_ui->shareSwitch, &QCheckBox::clicked, this, &MainWindow::onShareClicked);
    connect(m_ui->teamKeyButton, &QPushButton::clicked, this, &MainWindow::createTeamKey);
    connect(m_ui->copySnippetButton, &QPushButton::clicked, this, [this] {
        QGuiApplication::clipboard()->setText(clientSnippet());
        statusBar()->showMessage(tr("Snippet copied to the clipboard."), 3000);
    });
    // A key made or revoked here works, or stops working, at once (the server rereads its
    // keys only now and then otherwise).
    connect(m_keysPage, &KeysPage::keyCreated, &m_controller, &ServerController::refreshKeys);
    connect(m_keysPage, &KeysPage::keysChanged, this, [this] {
        m_controller.refreshKeys();
        m_hasKeys = m_keysPage->hasActiveKey(0);
        updateBanner();
        updateSnippet();
    });

    connect(&m_controller, &ServerController::started, this, [this] {
        m_error.clear();
        m_hasKeys = m_keysPage->hasActiveKey(0);
        m_keysPage->reload();
        updateServerState();
        scheduleRefresh();
    });
    connect(&m_controller, &ServerController::failed, this, [this](const QString &error) {
        m_error = error;
        updateServerState();
        scheduleRefresh();
    });
    connect(&m_controller, &ServerController::stopped, this, [this] {
        updateServerState();
        if (std::exchange(m_restartPending, false))
            startServer();
    });
    connect(&m_controller, &ServerController::mergeChanged, this, &MainWindow::scheduleRefresh);
    // What the server loaded: the reader starts from it (its own thread copies it into its
    // engine) and reads only what changed since. Queued before `started` asks to refresh.
    connect(&m_controller, &ServerController::loaded, this,
            [this](const AgentsSnapshotPtr &snapshot) {
                if (m_live.loaded())
                    return;
                StoreReader *reader = m_reader->reader();
                m_reader->post([reader, snapshot] { reader->seed(snapshot); });
            });
    connect(&m_controller, &ServerController::requestsFinished, this,
            [this](const QList<RequestEvent> &events) {
                m_activity->append(events);
                if (m_activity->paused())
                    m_ui->activityHint->setText(
                        tr("Paused · new requests held: %1").arg(m_activity->heldCount()));
                scheduleRefresh();
            });

    setupTray();
    {
        const QSettings settings;
        restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    }
    updateServerState();
    updateLoading();
    // An existing database shows its data even before the server starts; when the server
    // starts with the window, the first read waits for it (both read every agent: on two
    // cores one after the other is faster for both), and `started` asks for it.
    QTimer::singleShot(0, this, [this] {
        if (m_controller.state() == ServerController::State::Stopped && !m_live.loaded())
            refreshNow();
    });
}

MainWindow::~MainWindow()
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    // Stops the readers before the models they feed go.
    m_pinger.reset();
    m_reader.reset();
    Store::forbidThread(nullptr);
}

void MainWindow::setupViews()
{
    m_agents = new AgentsModel(this);
    m_topics = new TopicsModel(this);
    m_facts = new FactsModel(this);
    m_activity = new ActivityModel(this);

    m_agentsProxy = new QSortFilterProxyModel(this);
    m_agentsProxy->setSourceModel(m_agents);
    m_agentsProxy->setSortRole(SortRole);
    m_agentsProxy->setFilterKeyColumn(AgentsModel::Agent);
    m_agentsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_ui->agentsView->setModel(m_agentsProxy);
    setupTable(m_ui->agentsView);
    m_ui->agentsView->setSortingEnabled(true);
    m_ui->agentsView->sortByColumn(AgentsModel::LastSeen, Qt::DescendingOrder);
    {
        QHeaderView *header = m_ui->agentsView->horizontalHeader();
        const int digits = header->fontMetrics().horizontalAdvance(QStringLiteral("0000000"));
        // Dates and counts take what their text needs (plus the cell's margins), no more:
        // the agent id gets the rest, and a long id keeps its distinctive ends.
        const int margin =
            2 * (m_ui->agentsView->style()->pixelMetric(QStyle::PM_FocusFrameHMargin) + 4);
        const int date = m_ui->agentsView->fontMetrics().horizontalAdvance(
                             QStringLiteral("0000-00-00 00:00:00")) +
                         margin;
        m_ui->agentsView->setTextElideMode(Qt::ElideMiddle);
        // Every column fits beside the detail pane: the agent id takes what the dates and
        // counts leave.
        header->setStretchLastSection(false);
        header->setSectionResizeMode(AgentsModel::Agent, QHeaderView::Stretch);
        header->resizeSection(AgentsModel::FirstSeen, date);
        header->resizeSection(AgentsModel::LastSeen, date);
        for (int c = AgentsModel::Pushes; c < AgentsModel::ColumnCount; ++c)
            header->resizeSection(c, std::max(digits, header->sectionSizeHint(c)));
    }
    connect(m_ui->agentFilter, &QLineEdit::textChanged, m_agentsProxy,
            &QSortFilterProxyModel::setFilterFixedString);
    connect(m_ui->agentsView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                showAgent(current.isValid() ? current.siblingAtColumn(0).data().toString()
                                            : QString());
            });
    for (QTableWidget *table :
         {m_ui->agentTopicsTable, m_ui->agentHistoryTable, m_ui->topicBreakdownTable}) {
        setupTable(table);
        table->setSortingEnabled(false);
    }
    // Columns as wide as their headers and cells (German headers are long); the table
    // scrolls sideways when the pane is narrower.
    m_ui->agentHistoryTable->horizontalHeader()->setSectionResizeMode(
        QHeaderView::ResizeToContents);
    m_ui->agentHistoryTable->horizontalHeader()->setStretchLastSection(false);
    m_ui->agentsSplitter->setSizes({680, 380});
    m_ui->agentDetailSplitter->setSizes({200, 150, 200});

    m_topicsProxy = new QSortFilterProxyModel(this);
    m_topicsProxy->setSourceModel(m_topics);
    m_topicsProxy->setSortRole(SortRole);
    m_topicsProxy->setFilterKeyColumn(TopicsModel::Topic);
    m_topicsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_ui->topicsView->setModel(m_topicsProxy);
    setupTable(m_ui->topicsView);
    m_ui->topicsView->setSortingEnabled(true);
    m_ui->topicsView->sortByColumn(TopicsModel::Count, Qt::DescendingOrder);
    m_ui->topicsView->horizontalHeader()->resizeSection(TopicsModel::Topic, 260);
    connect(m_ui->topicFilter, &QLineEdit::textChanged, m_topicsProxy,
            &QSortFilterProxyModel::setFilterFixedString);
    connect(m_ui->topicsView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                showTopic(current.isValid() ? current.siblingAtColumn(0).data().toString()
                                            : QString());
            });
    m_ui->topicsSplitter->setSizes({600, 460});

    // Until the reader's first snapshot arrives, the tables say so.
    for (QAbstractItemView *view : std::initializer_list<QAbstractItemView *>{
             m_ui->agentsView, m_ui->topicsView, m_ui->factsView}) {
        auto *label = new QLabel(view->viewport());
        label->setObjectName(view->objectName() + u"Loading");
        label->setAlignment(Qt::AlignCenter);
        label->setAttribute(Qt::WA_TransparentForMouseEvents);
        label->setEnabled(false);
        auto *layout = new QVBoxLayout(view->viewport());
        layout->addWidget(label);
    }
    m_ui->factsView->setModel(m_facts);
    setupTable(m_ui->factsView);
    m_ui->factsView->horizontalHeader()->setSectionResizeMode(FactsModel::Fact,
                                                              QHeaderView::Stretch);
    m_ui->factsView->horizontalHeader()->setStretchLastSection(false);
    connect(m_ui->factFilter, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_facts->setFilter(text);
        updateStatusBar();
    });

    m_ui->activityView->setModel(m_activity);
    setupTable(m_ui->activityView);
    const int widths[] = {110, 200, 170, 130, 60};
    for (int c = 0; c < int(std::size(widths)); ++c)
        m_ui->activityView->horizontalHeader()->resizeSection(c, widths[c]);
    connect(m_ui->pauseButton, &QPushButton::toggled, this, [this](bool paused) {
        m_activity->setPaused(paused);
        m_ui->pauseButton->setText(paused ? tr("&Resume") : tr("&Pause"));
        m_ui->activityHint->setText(paused ? tr("Paused: new requests are held.") : QString());
    });
    connect(m_ui->clearButton, &QPushButton::clicked, m_activity, &ActivityModel::clear);
}

void MainWindow::setupTray()
{
    if (!QSystemTrayIcon::isSystemTrayAvailable())
        return;
    m_tray = new QSystemTrayIcon(icon("agmem"), this);
    auto *menu = new QMenu(this);
    QAction *status = menu->addAction(QString());
    status->setObjectName(QStringLiteral("trayStatus"));
    status->setEnabled(false);
    menu->addSeparator();
    menu->addAction(tr("&Show"), this, [this] {
        showNormal();
        raise();
        activateWindow();
    });
    menu->addAction(m_ui->startAction);
    menu->addAction(m_ui->stopAction);
    menu->addSeparator();
    menu->addAction(m_ui->quitAction);
    m_tray->setContextMenu(menu);
    connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
        if (r == QSystemTrayIcon::Trigger) {
            showNormal();
            raise();
            activateWindow();
        }
    });
    m_tray->show();
}

void MainWindow::setConfirm(KeysPage::Confirm confirm)
{
    m_confirm = std::move(confirm);
}

bool MainWindow::confirm(const QString &title, const QString &text, const QString &acceptLabel)
{
    if (m_confirm)
        return m_confirm(title, text, acceptLabel);
    QMessageBox box(QMessageBox::Question, title, text, QMessageBox::NoButton, this);
    QPushButton *accept = box.addButton(acceptLabel, QMessageBox::AcceptRole);
    QPushButton *cancel = box.addButton(tr("Cancel"), QMessageBox::RejectRole);
    box.setDefaultButton(cancel);
    box.exec();
    return box.clickedButton() == accept;
}

bool MainWindow::applyHostAndPort()
{
    QHostAddress host;
    if (!parseListenAddress(m_ui->hostEdit->text(), &host)) {
        m_error = tr("\"%1\" is not an IP address (use 127.0.0.1 for this computer only, "
                     "0.0.0.0 for every network interface).")
                      .arg(m_ui->hostEdit->text().trimmed());
        updateServerState();
        return false;
    }
    m_config.host = host;
    m_config.port = quint16(m_ui->portSpin->value());
    m_ui->shareSwitch->setChecked(!host.isLoopback());
    return true;
}

void MainWindow::startServer()
{
    if (m_controller.state() != ServerController::State::Stopped)
        return;
    if (!applyHostAndPort())
        return;
    m_error.clear();
    m_controller.start(m_config);
    updateServerState();
}

void MainWindow::stopServer()
{
    m_restartPending = false;
    m_controller.stop();
    updateServerState();
}

void MainWindow::restartServer()
{
    if (m_controller.state() == ServerController::State::Stopped) {
        startServer();
        return;
    }
    m_controller.stop();
    m_restartPending = true;
    updateServerState();
}

void MainWindow::updateServerState()
{
    using State = ServerController::State;
    const State state = m_controller.state();
    QString text;
    const char *iconName = "status-stopped";
    switch (state) {
    case State::Stopped:
        text = m_error.isEmpty() ? tr("Stopped") : tr("Error");
        if (!m_error.isEmpty())
            iconName = "status-error";
        break;
    case State::Starting:
        text = tr("Starting…");
        break;
    case State::Listening:
        text = tr("Listening on");
        iconName = "status-listening";
        break;
    case State::Stopping:
        text = tr("Stopping…");
        break;
    }
    m_ui->statusIcon->setPixmap(icon(iconName).pixmap(16, 16));
    m_ui->stateLabel->setText(u"<b>" + text + u"</b>");
    if (state == State::Listening) {
        const QString url = m_controller.url().toString();
        m_ui->urlLabel->setText(u"<a href=\"" + url.toHtmlEscaped() + u"\">" + url.toHtmlEscaped() +
                                u"</a>");
        // The port the server really took (0 asks for any free one).
        m_ui->portSpin->setValue(m_controller.port());
    } else {
        m_ui->urlLabel->clear();
    }
    m_ui->errorLabel->setText(m_error.isEmpty() ? QString()
                                                : tr("Could not start: %1").arg(m_error));
    m_ui->errorLabel->setVisible(!m_error.isEmpty());
    const bool stopped = state == State::Stopped;
    m_ui->startButton->setEnabled(stopped);
    m_ui->startAction->setEnabled(stopped);
    m_ui->stopButton->setEnabled(state == State::Listening || state == State::Starting);
    m_ui->stopAction->setEnabled(m_ui->stopButton->isEnabled());
    m_ui->copyUrlAction->setEnabled(state == State::Listening);
    m_ui->hostEdit->setEnabled(stopped);
    m_ui->portSpin->setEnabled(stopped);
    if (m_tray) {
        const QString status = state == State::Listening
                                   ? tr("Listening on %1").arg(m_controller.url().toString())
                                   : text;
        m_tray->setToolTip(tr("agmem Coordinator: %1").arg(status));
        m_tray->setIcon(icon(state == State::Listening ? "agmem" : iconName));
        if (QAction *a = m_tray->contextMenu()->findChild<QAction *>(QStringLiteral("trayStatus")))
            a->setText(status);
        else if (!m_tray->contextMenu()->actions().isEmpty())
            m_tray->contextMenu()->actions().constFirst()->setText(status);
    }
    updateBanner();
    updateSnippet();
}

bool MainWindow::bannerShown() const
{
    return !m_ui->exposedBanner->isHidden();
}

void MainWindow::updateBanner()
{
    // The server decides at start (exposedWithoutKey); in auth mode auto a key created or
    // revoked since changes the answer within two seconds, so the banner follows the keys.
    const AccessConfig &access = m_config.access;
    const bool keysRequired = access.mode == AccessConfig::AuthMode::Required ||
                              !access.environmentKey.isEmpty() ||
                              (access.mode == AccessConfig::AuthMode::Auto && m_hasKeys);
    const bool exposed = m_controller.state() == ServerController::State::Listening &&
                         !m_config.host.isLoopback() && !keysRequired;
    m_ui->exposedBanner->setVisible(exposed);
}

QString MainWindow::clientSnippet() const
{
    return m_ui->snippetEdit->toPlainText();
}

void MainWindow::updateSnippet()
{
    const bool listening = m_controller.state() == ServerController::State::Listening;
    const QString scheme = listening
                               ? m_controller.url().scheme()
                               : (m_config.tlsCertificate.isEmpty() ? QStringLiteral("http")
                                                                    : QStringLiteral("https"));
    const QString host =
        m_config.host.isLoopback() ? QStringLiteral("127.0.0.1")
        : (m_config.host == QHostAddress::Any || m_config.host == QHostAddress::AnyIPv4 ||
           m_config.host == QHostAddress::AnyIPv6)
            ? lanAddress()
            : m_config.host.toString();
    const int port = listening ? m_controller.port() : m_ui->portSpin->value();
    QString path;
    QString hint;
    const bool open = m_config.access.mode == AccessConfig::AuthMode::Open;
    if (!m_teamKey.isEmpty() && !open) {
        path = u"/k/" + m_teamKey;
        hint = tr("Includes the team key created in this session.");
    } else if (m_hasKeys && !open) {
        path = QStringLiteral("/k/YOUR_KEY");
        hint = tr("Replace YOUR_KEY with a key that has the push and pull scopes.");
    }
    const QString snippet = QStringLiteral("federated:\n"
                                           "  enabled: true\n"
                                           "  coordinator_url: \"%1://%2:%3%4\"\n")
                                .arg(scheme, host)
                                .arg(port)
                                .arg(path);
    if (m_ui->snippetEdit->toPlainText() != snippet)
        m_ui->snippetEdit->setPlainText(snippet);
    if (!listening)
        hint = tr("The server is not running.") + u' ' + hint;
    m_ui->snippetHint->setText(hint.trimmed());
}

void MainWindow::onShareClicked(bool on)
{
    if (on) {
        if (!confirm(tr("Share with the team"),
                     tr("Listen on every network interface? Agents on other machines can then "
                        "reach the coordinator; so can anyone else on the network unless an API "
                        "key is required."),
                     tr("Share"))) {
            m_ui->shareSwitch->setChecked(false);
            return;
        }
        m_ui->hostEdit->setText(QStringLiteral("0.0.0.0"));
        restartServer();
        if (m_config.access.mode != AccessConfig::AuthMode::Open &&
            !m_keysPage->hasActiveKey(Scope::Push | Scope::Pull) &&
            confirm(tr("Create a key"),
                    tr("No API key with the push and pull scopes exists yet. Create one for the "
                       "team now? The server then refuses requests without a key."),
                    tr("Create key")))
            createTeamKey();
    } else {
        m_ui->hostEdit->setText(QStringLiteral("127.0.0.1"));
        restartServer();
    }
    updateSnippet();
}

void MainWindow::createTeamKey()
{
    m_keysPage->createKey(tr("team"), Scope::Push | Scope::Pull, [this](const QString &key) {
        m_teamKey = key;
        updateSnippet();
        statusBar()->showMessage(
            tr("Created the key \"team\" (push, pull); it is in the snippet below."), 5000);
    });
}

void MainWindow::scheduleRefresh()
{
    if (!m_refreshTimer.isActive())
        m_refreshTimer.start();
}

void MainWindow::refreshNow()
{
    m_refreshTimer.stop();
    if (m_refreshInFlight) {
        // One refresh at a time; the next one after its answer.
        m_refreshAgain = true;
        return;
    }
    StoreReader::Request request;
    request.pushMinutesSince = m_ui->pushRateChart->seedSince();
    request.pushMinutesMaxRows = PushRateChart::MaxSeedRows;
    m_refreshInFlight = true;
    m_refreshAgain = false;
    m_refreshSentMs = nowMs();
    StoreReader *reader = m_reader->reader();
    m_reader->post([reader, request] { reader->refresh(request); });
}

void MainWindow::applyDelta(const LiveDeltaPtr &delta)
{
    const StallProbe::Scope probe("refresh");
    m_refreshInFlight = false;
    m_refreshFailed = false;
    if (m_troubleSinceMs >= 0) {
        clearTrouble();
        updateDatabaseBanner();
    }
    if (std::exchange(m_refreshAgain, false))
        scheduleRefresh();
    const bool first = !m_live.loaded();
    m_live.apply(*delta);
    m_agents->update(m_live);
    if (delta->topics)
        m_topics->update(m_live.topics());
    {
        // A large change resets the facts model: the view then goes on from the same fact.
        QTableView *view = m_ui->factsView;
        const QModelIndex top = view->indexAt(QPoint(0, 0));
        const QString topFact =
            top.isValid() ? top.siblingAtColumn(0).data().toString() : QString();
        const QString currentFact = view->currentIndex().siblingAtColumn(0).data().toString();
        const bool wasReset = m_facts->apply(*delta);
        if (wasReset && !topFact.isEmpty()) {
            if (const int row = m_facts->rowAtOrAfter(topFact); row >= 0)
                view->scrollTo(m_facts->index(row, 0), QAbstractItemView::PositionAtTop);
            if (const int row = m_facts->rowOf(currentFact); row >= 0 && !currentFact.isEmpty())
                view->setCurrentIndex(m_facts->index(row, 0));
        }
    }
    m_ui->pushRateChart->feed(delta->state, delta->pushMinutes);
    if (!m_shownAgent.isEmpty()) {
        const auto it =
            std::find_if(m_live.agents().cbegin(), m_live.agents().cend(),
                         [this](const AgentState &a) { return a.agentId == m_shownAgent; });
        if (first || it == m_live.agents().cend() || it->pushCount != m_shownAgentPushes)
            showAgent(m_shownAgent);
    }
    if (!m_shownTopic.isEmpty() && (delta->topics || first))
        showTopic(m_shownTopic);
    updateStatusBar();
    if (first) {
        updateLoading();
        StallProbe::mark("first snapshot shown");
    }
}

void MainWindow::onRefreshFailed(const QString &error)
{
    m_refreshInFlight = false;
    m_refreshFailed = true;
    noteTrouble(nowMs(), error);
    updateDatabaseBanner();
    if (std::exchange(m_refreshAgain, false))
        scheduleRefresh();
}

qint64 MainWindow::nowMs() const
{
    return m_clock ? m_clock() : m_monotonic.elapsed();
}

void MainWindow::setClock(std::function<qint64()> monotonicMs)
{
    m_clock = std::move(monotonicMs);
    // Times taken with the old clock mean nothing on the new one.
    m_pingSentMs = -1;
    m_refreshSentMs = nowMs();
    if (m_troubleSinceMs >= 0)
        m_troubleSinceMs = nowMs();
}

void MainWindow::noteTrouble(qint64 sinceMs, const QString &text)
{
    if (m_troubleSinceMs < 0) {
        m_troubleSinceMs = sinceMs;
        m_troubleSince = QDateTime::currentDateTime().addMSecs(sinceMs - nowMs());
    }
    m_troubleText = text;
}

void MainWindow::clearTrouble()
{
    m_troubleSinceMs = -1;
    m_troubleSince = {};
    m_troubleText.clear();
}

// Every 100 ms. The database's health does not wait for a refresh: the second reader pings
// it twice a second once reading started, and a ping that has not come back by the deadline (the
// GUI thread knows when it asked) means the database does not answer (a hung server, a lost
// network), while a long refresh whose pings come back is only a large read. A reader that failed
// is asked again every two seconds.
void MainWindow::checkReader()
{
    constexpr int RetryMs = 2000;
    constexpr int PingEveryMs = 500;
    const qint64 now = nowMs();
    // Nothing to watch before the first read is asked for (serving at launch: the server
    // creates the database first, and the window's first read waits for it).
    const bool watching = m_refreshInFlight || m_live.loaded() || m_troubleSinceMs >= 0;
    if (!m_pingInFlight) {
        if (watching && (m_pingSentMs < 0 || now - m_pingSentMs >= PingEveryMs)) {
            m_pingInFlight = true;
            m_pingSentMs = now;
            StoreReader *pinger = m_pinger->reader();
            const quint64 token = ++m_pingToken;
            m_pinger->post([pinger, token] { pinger->ping(token); });
        }
    } else if (now - m_pingSentMs >= m_unreachableAfterMs) {
        const qint64 waited = now - m_pingSentMs;
        noteTrouble(m_pingSentMs,
                    tr("no answer for %n second(s)", nullptr, int(qMax<qint64>(waited / 1000, 1))));
    }
    if (!m_refreshInFlight && m_troubleSinceMs >= 0 && now - m_refreshSentMs >= RetryMs)
        refreshNow();
    updateDatabaseBanner();
}

void MainWindow::onPinged(quint64 token, const QString &error)
{
    if (token != m_pingToken)
        return;
    m_pingInFlight = false;
    if (error.isEmpty()) {
        // The database answers: the reader is only busy, unless its last read failed (then
        // its retry tells).
        if (m_troubleSinceMs >= 0 && !m_refreshFailed)
            clearTrouble();
    } else {
        noteTrouble(m_pingSentMs, error);
    }
    updateDatabaseBanner();
}

bool MainWindow::databaseBannerShown() const
{
    return !m_databaseBanner->isHidden();
}

void MainWindow::updateDatabaseBanner()
{
    // A failure shorter than the deadline (the database being created at the first start)
    // is not worth a banner; a ping unanswered for that long is noted when it is due.
    const bool show = m_troubleSinceMs >= 0 && nowMs() - m_troubleSinceMs >= m_unreachableAfterMs;
    if (show) {
        const QString text =
            tr("The database %1 cannot be reached since %2 (%3). The window shows what was read "
               "before and keeps trying.")
                .arg(m_config.store.displayName(),
                     QLocale().toString(m_troubleSince.time(), QLocale::LongFormat), m_troubleText);
        if (m_databaseBanner->text() != text)
            m_databaseBanner->setText(text);
    }
    if (m_databaseBanner->isHidden() == show) {
        m_databaseBanner->setVisible(show);
        StallProbe::mark(show ? "database banner shown" : "database banner hidden");
    }
}

void MainWindow::updateLoading()
{
    const bool loading = !m_live.loaded();
    for (QAbstractItemView *view : std::initializer_list<QAbstractItemView *>{
             m_ui->agentsView, m_ui->topicsView, m_ui->factsView}) {
        if (auto *label = view->viewport()->findChild<QLabel *>(view->objectName() + u"Loading")) {
            label->setText(tr("Reading the database…"));
            label->setVisible(loading);
        }
    }
    if (loading) {
        m_summaryLabel->setText(tr("Reading the database…"));
        m_ui->factsCountLabel->setText(tr("Reading the database…"));
    } else {
        updateStatusBar();
    }
}

void MainWindow::updateStatusBar()
{
    if (!m_live.loaded())
        return;
    const QLocale locale;
    const QString facts = locale.toString(qint64(m_live.factCount()));
    m_ui->factsCountLabel->setText(
        m_facts->filter().isEmpty()
            ? tr("Unique facts: %1").arg(facts)
            : tr("Matching: %1 of %2 facts").arg(locale.toString(m_facts->rowCount()), facts));
    // Labels before the numbers: no plural forms needed.
    m_summaryLabel->setText(tr("Agents: %1 · Topics: %2 · Unique facts: %3 · Pushes in total: %4")
                                .arg(locale.toString(m_live.agents().size()),
                                     locale.toString(qint64(m_live.topics().size())), facts,
                                     locale.toString(m_live.state().totalPushes)));
}

void MainWindow::showAgent(const QString &agentId)
{
    m_shownAgent = agentId;
    m_shownAgentPushes = -1;
    QTableWidget *topics = m_ui->agentTopicsTable;
    QTableWidget *history = m_ui->agentHistoryTable;
    topics->setRowCount(0);
    history->clearSpans();
    history->setRowCount(0);
    m_ui->agentFactsList->clear();
    if (agentId.isEmpty()) {
        m_ui->agentHeading->setText(tr("Select an agent to see its current summary."));
        return;
    }
    const auto counters = std::find_if(m_live.agents().cbegin(), m_live.agents().cend(),
                                       [&](const AgentState &a) { return a.agentId == agentId; });
    if (counters != m_live.agents().cend())
        m_shownAgentPushes = counters->pushCount;
    const auto state = m_live.contributions().constFind(agentId);
    if (!m_live.loaded()) {
        m_ui->agentHeading->setText(
            tr("<b>%1</b><br>Reading the database…").arg(agentId.toHtmlEscaped()));
    } else if (state == m_live.contributions().cend() || !state->current) {
        m_ui->agentHeading->setText(
            tr("<b>%1</b><br>No current summary.").arg(agentId.toHtmlEscaped()));
    } else {
        const Contribution &c = *state->current;
        m_ui->agentHeading->setText(tr("<b>%1</b><br>Current summary from %2 · %3 · %4")
                                        .arg(agentId.toHtmlEscaped(), formatInstant(c.timestamp),
                                             tr("%n topic(s)", nullptr, int(c.topics.size())),
                                             tr("%n fact(s)", nullptr, int(c.facts.size()))));
        topics->setRowCount(int(c.topics.size()));
        for (int row = 0; row < c.topics.size(); ++row) {
            topics->setItem(row, 0, new QTableWidgetItem(c.topics.at(row).first));
            auto *count = new QTableWidgetItem(QLocale().toString(c.topics.at(row).second));
            count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            topics->setItem(row, 1, count);
        }
        QStringList facts = c.facts.mid(0, MaxFactsShown);
        if (c.facts.size() > MaxFactsShown)
            facts.append(
                tr("… and %1 more").arg(QLocale().toString(c.facts.size() - MaxFactsShown)));
        m_ui->agentFactsList->addItems(facts);
    }
    // The history comes from the reader; until then the table says it is loading.
    history->setRowCount(1);
    history->setSpan(0, 0, 1, history->columnCount());
    history->setItem(0, 0, new QTableWidgetItem(tr("Reading the history…")));
    const quint64 token = ++m_historyToken;
    StoreReader *reader = m_reader->reader();
    m_reader->post(
        [reader, agentId, token] { reader->readAgentHistory(agentId, HistoryRows, token); });
}

void MainWindow::showAgentHistory(quint64 token, const QString &agentId,
                                  const QList<Store::PushRecord> &records, const QString &error)
{
    if (token != m_historyToken || agentId != m_shownAgent)
        return; // another agent is shown by now
    QTableWidget *history = m_ui->agentHistoryTable;
    history->clearSpans();
    history->setRowCount(0);
    if (!error.isEmpty()) {
        history->setRowCount(1);
        history->setSpan(0, 0, 1, history->columnCount());
        history->setItem(0, 0,
                         new QTableWidgetItem(tr("The history cannot be read: %1").arg(error)));
        return;
    }
    history->setRowCount(int(records.size()));
    for (int row = 0; row < records.size(); ++row) {
        const Store::PushRecord &r = records.at(row);
        const QStringList texts{formatInstant(r.receivedAt), formatInstant(r.summary.timestamp),
                                r.source, QLocale().toString(r.summary.topicCounts.size()),
                                QLocale().toString(r.summary.factHashes.size())};
        for (int column = 0; column < texts.size(); ++column)
            history->setItem(row, column, new QTableWidgetItem(texts.at(column)));
    }
}

void MainWindow::showTopic(const QString &topic)
{
    m_shownTopic = topic;
    QTableWidget *table = m_ui->topicBreakdownTable;
    if (topic.isEmpty()) {
        table->setRowCount(0);
        m_ui->topicHeading->setText(tr("Select a topic to see which agents report it."));
        return;
    }
    QList<QPair<QString, qint64>> rows;
    for (const AgentState &agent : m_live.contributions()) {
        if (!agent.current)
            continue;
        for (const auto &[name, count] : agent.current->topics) {
            if (name == topic) {
                rows.append({agent.agentId, count});
                break;
            }
        }
    }
    std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
        return a.second != b.second ? a.second > b.second : CodePointLess{}(a.first, b.first);
    });
    m_ui->topicHeading->setText(tr("<b>%1</b> · agents reporting it: %2")
                                    .arg(topic.toHtmlEscaped(), QLocale().toString(rows.size())));
    table->setRowCount(int(rows.size()));
    for (int row = 0; row < rows.size(); ++row) {
        table->setItem(row, 0, new QTableWidgetItem(rows.at(row).first));
        auto *count = new QTableWidgetItem(QLocale().toString(rows.at(row).second));
        count->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        table->setItem(row, 1, count);
    }
}

void MainWindow::showSettings()
{
    if (m_settingsDialog) {
        m_settingsDialog->raise();
        m_settingsDialog->activateWindow();
        return;
    }
    auto *dialog = new SettingsDialog(this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &SettingsDialog::applied, this,
            [this, dialog](const QStringList &changed) { applySettings(*dialog, changed); });
    m_settingsDialog = dialog;
    dialog->open();
}

// Saved settings take effect: server values at the server's next start (offered now when
// it runs), the database at the app's next start; values a flag or the environment sets
// for this run stay as they are (the dialog says so).
void MainWindow::applySettings(const SettingsDialog &dialog, const QStringList &changed)
{
    const QStringList applied = dialog.applyTo(&m_config, changed);
    if (applied.contains(u"host") || applied.contains(u"port")) {
        m_ui->hostEdit->setText(listenAddressText(m_config.host));
        m_ui->portSpin->setValue(m_config.port);
        m_ui->shareSwitch->setChecked(!m_config.host.isLoopback());
    }
    updateSnippet();
    if (changed.contains(u"db"))
        statusBar()->showMessage(tr("The new database location is used when the app restarts."),
                                 10000);
    if (!applied.isEmpty() && m_controller.state() != ServerController::State::Stopped &&
        confirm(tr("Restart the server?"),
                tr("The changed settings take effect when the server restarts. Restart it now? "
                   "Open connections are closed; agents reach it again at their next push."),
                tr("&Restart")))
        restartServer();
    else if (!applied.isEmpty() && m_controller.state() != ServerController::State::Stopped)
        statusBar()->showMessage(tr("The new settings apply when the server next starts."), 10000);
}

void MainWindow::showAbout()
{
    QMessageBox::about(
        this, tr("About agmem Coordinator"),
        tr("<h3>agmem Coordinator %1</h3>"
           "<p>Coordinator for agmem agent-memory federation: agents push summaries of their "
           "memory and pull the merged view of every agent.</p>"
           "<p>Database: %2<br>Qt %3</p>")
            .arg(QStringLiteral(AGMEM_VERSION), m_config.store.displayName().toHtmlEscaped(),
                 QString::fromLatin1(qVersion())));
}

void MainWindow::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::LanguageChange) {
        m_ui->retranslateUi(this);
        updateServerState();
        updateStatusBar();
    }
    QMainWindow::changeEvent(event);
}

} // namespace agmem
