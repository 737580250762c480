#pragma once

#include "keyspage.h"
#include "livemodels.h"
#include "storereader.h"

#include "server/servercontroller.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include <functional>
#include <memory>

class QSortFilterProxyModel;
class QLabel;
class QSystemTrayIcon;

namespace Ui {
class MainWindow;
}

namespace agmem {

class SettingsDialog;

// The dashboard: runs the coordinator on its own thread (ServerController) and shows
// what it does. Reads through its reader (storereader.h: its own thread and read-only
// store connection), refreshed at most ten times a second when the server reports
// changes. It never waits for the reader: views say they are loading until the first
// answer, and a reader that does not answer shows the database as unreachable.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(const ServerConfig &config, QWidget *parent = nullptr);
    ~MainWindow() override;

    // Starts serving with the host and port in the window.
    void startServer();
    void stopServer();

    ServerController &controller() { return m_controller; }
    KeysPage *keysPage() const { return m_keysPage; }
    // Confirmations (share, revoke): tests replace the dialog.
    void setConfirm(KeysPage::Confirm confirm);
    // The .mem/config.yaml snippet for agmem clients, as shown.
    QString clientSnippet() const;
    bool bannerShown() const;
    // The "database unreachable" banner is shown.
    bool databaseBannerShown() const;
    // The first snapshot from the reader has arrived.
    bool loaded() const { return m_live.loaded(); }
    // Asks the reader for a refresh now (normally coalesced by a timer); the views change
    // when its answer arrives.
    void refreshNow();
    // How long a ping may go unanswered (or reads keep failing) before the window says the
    // database cannot be reached.
    void setUnreachableAfter(int ms) { m_unreachableAfterMs = ms; }
    // The monotonic clock (milliseconds) the deadlines are measured with (tests).
    void setClock(std::function<qint64()> monotonicMs);
    // File ▸ Settings: opens the dialog (not modal for the event loop: open(), not exec()).
    void showSettings();

protected:
    void changeEvent(QEvent *event) override;

private:
    void setupViews();
    void setupTray();
    void scheduleRefresh();
    void applyDelta(const LiveDeltaPtr &delta);
    void onRefreshFailed(const QString &error);
    void checkReader();
    qint64 nowMs() const;
    void noteTrouble(qint64 sinceMs, const QString &text);
    void clearTrouble();
    void onPinged(quint64 token, const QString &error);
    void updateDatabaseBanner();
    void updateLoading();
    void updateServerState();
    void updateBanner();
    void updateSnippet();
    void updateStatusBar();
    void showAgent(const QString &agentId);
    void showAgentHistory(quint64 token, const QString &agentId,
                          const QList<Store::PushRecord> &records, const QString &error);
    void showTopic(const QString &topic);
    void onShareClicked(bool on);
    void createTeamKey();
    void restartServer();
    void showAbout();
    void applySettings(const SettingsDialog &dialog, const QStringList &changed);
    bool confirm(const QString &title, const QString &text, const QString &acceptLabel);
    bool applyHostAndPort();

    std::unique_ptr<Ui::MainWindow> m_ui;
    ServerConfig m_config;
    ServerController m_controller;
    std::unique_ptr<ReaderThread> m_reader;
    // A second reader that only pings, while the first is busy: a slow read (a million
    // facts) is not an unreachable database.
    std::unique_ptr<ReaderThread> m_pinger;
    LiveView m_live;
    AgentsModel *m_agents;
    TopicsModel *m_topics;
    FactsModel *m_facts;
    ActivityModel *m_activity;
    QSortFilterProxyModel *m_agentsProxy;
    QSortFilterProxyModel *m_topicsProxy;
    KeysPage *m_keysPage;
    QSystemTrayIcon *m_tray = nullptr;
    // The totals in the status bar: a widget, so menus and passing messages do not erase
    // them (they only cover it for a while).
    QLabel *m_summaryLabel;
    QTimer m_refreshTimer;
    // The reader's refresh in progress: one at a time, the next asked for after it.
    bool m_refreshInFlight = false;
    bool m_refreshAgain = false;
    bool m_refreshFailed = false;
    static constexpr int ReaderWatchMs = 100;
    QElapsedTimer m_monotonic;
    std::function<qint64()> m_clock;
    // When the refresh in flight (or the last one) and the ping were asked for (nowMs()).
    qint64 m_refreshSentMs = 0;
    qint64 m_pingSentMs = -1;
    bool m_pingInFlight = false;
    quint64 m_pingToken = 0;
    QTimer m_readerWatch;
    int m_unreachableAfterMs = 1000;
    // Since when the database cannot be read (-1: it can), by nowMs() and the wall clock
    // (shown), and why.
    qint64 m_troubleSinceMs = -1;
    QDateTime m_troubleSince;
    QString m_troubleText;
    QLabel *m_databaseBanner;
    quint64 m_historyToken = 0;
    KeysPage::Confirm m_confirm;
    QString m_error;
    QString m_teamKey;
    QString m_shownAgent;
    qint64 m_shownAgentPushes = -1;
    QString m_shownTopic;
    bool m_hasKeys = false;
    bool m_restartPending = false;
    QPointer<SettingsDialog> m_settingsDialog;
};

} // namespace agmem
