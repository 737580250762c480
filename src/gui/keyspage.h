#pragma once

#include "store/store.h"

#include <QWidget>

#include <functional>
#include <memory>
#include <optional>

namespace Ui {
class KeysPage;
}

namespace agmem {

class ReaderThread;

// API keys: create (shown once, with Copy), list, revoke. Reads and writes through the
// window's reader thread (storereader.h), never on the GUI thread: answers arrive as
// signals; the server notices changes within two seconds.
class KeysPage : public QWidget
{
    Q_OBJECT

public:
    // Asks the person to confirm; tests replace it.
    using Confirm =
        std::function<bool(const QString &title, const QString &text, const QString &acceptLabel)>;

    explicit KeysPage(QWidget *parent = nullptr);
    ~KeysPage() override;

    void setReader(ReaderThread *reader);
    void setConfirm(Confirm confirm) { m_confirm = std::move(confirm); }

    // Creates a key and shows it once; `done` gets the key (not called on failure: the
    // error is shown).
    void createKey(const QString &name, unsigned scopes,
                   std::function<void(const QString &key)> done = {});
    void revokeKey(qint64 id, const QString &name);
    // Whether an active key holds all of `scopes`, as last read.
    bool hasActiveKey(unsigned scopes) const;
    // The keys have been read at least once.
    bool loaded() const { return m_loaded; }
    void reload();

Q_SIGNALS:
    // The list was read again (after a change, or the first time).
    void keysChanged();
    // A key was created (the page shows it once).
    void keyCreated(const QString &key);

protected:
    void showEvent(QShowEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    void onKeysListed(quint64 token, const QList<ApiKeyRecord> &keys, const QString &error);
    void onCreate();
    void onRevoke();
    void showError(const QString &text);
    void updateRevokeButton();

    std::unique_ptr<Ui::KeysPage> m_ui;
    ReaderThread *m_reader = nullptr;
    QList<ApiKeyRecord> m_keys;
    quint64 m_token = 0;
    bool m_loaded = false;
    bool m_listing = false;
    Confirm m_confirm;
};

} // namespace agmem
