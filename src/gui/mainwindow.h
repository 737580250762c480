#pragma once

#include "keyspage.h"
#include "livemodels.h"

#include "server/servercontroller.h"

#include <QMainWindow>
#include <QPointer>
#include <QTimer>

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
// what it does. Reads through its own read-only store connection, refreshed at most ten
// times a second when the server reports changes.
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
    // Reads the store now (normally coalesced by a timer).
    void refreshNow();
    // File ▸ Settings: opens the dialog (not modal for the event loop: open(), not exec()).
    void showSettings();

protected:
    void changeEvent(QEvent *event) override;

private:
    void setupViews();
    void setupTray();
    void scheduleRefresh();
    void updateServerState();
    void updateBanner();
    void updateSnippet();
    void updateStatusBar();
    void showAgent(const QString &agentId);
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
    LiveData m_live;
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
