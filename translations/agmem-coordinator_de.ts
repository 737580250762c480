<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de">
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export</source>
        <translation>Exportieren</translation>
    </message>
    <message>
        <source>&amp;What:</source>
        <translation>&amp;Was:</translation>
    </message>
    <message>
        <source>What to export</source>
        <translation>Was exportiert wird</translation>
    </message>
    <message>
        <source>&amp;Format:</source>
        <translation>&amp;Format:</translation>
    </message>
    <message>
        <source>File format</source>
        <translation>Dateiformat</translation>
    </message>
    <message>
        <source>F&amp;ile:</source>
        <translation>Da&amp;tei:</translation>
    </message>
    <message>
        <source>File to export to</source>
        <translation>Datei, in die exportiert wird</translation>
    </message>
    <message>
        <source>Choose the file</source>
        <translation>Die Datei auswählen</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Durchsuchen…</translation>
    </message>
    <message>
        <source>Export progress</source>
        <translation>Exportfortschritt</translation>
    </message>
    <message>
        <source>Export status</source>
        <translation>Exportstatus</translation>
    </message>
    <message>
        <source>&amp;Export</source>
        <translation>&amp;Exportieren</translation>
    </message>
    <message>
        <source>Stop the export; no file is written</source>
        <translation>Den Export abbrechen; es wird keine Datei geschrieben</translation>
    </message>
    <message>
        <source>&amp;Cancel export</source>
        <translation>Export &amp;abbrechen</translation>
    </message>
    <message>
        <source>C&amp;lose</source>
        <translation>&amp;Schließen</translation>
    </message>
</context>
<context>
    <name>KeysPage</name>
    <message>
        <source>New key</source>
        <translation>Neuer Schlüssel</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Name:</translation>
    </message>
    <message>
        <source>Name of the new key</source>
        <translation>Name des neuen Schlüssels</translation>
    </message>
    <message>
        <source>e.g. laptop of Ada</source>
        <translation>z. B. Laptop von Ada</translation>
    </message>
    <message>
        <source>Scopes:</source>
        <translation>Rechte:</translation>
    </message>
    <message>
        <source>May push summaries</source>
        <translation>Darf Zusammenfassungen senden</translation>
    </message>
    <message>
        <source>May pull the merged view</source>
        <translation>Darf die zusammengeführte Sicht abrufen</translation>
    </message>
    <message>
        <source>May reset the coordinator and delete agents</source>
        <translation>Darf den Koordinator zurücksetzen und Agenten löschen</translation>
    </message>
    <message>
        <source>C&amp;reate key</source>
        <translation>Schlüssel &amp;erzeugen</translation>
    </message>
    <message>
        <source>Copy the new key now: it is shown only this once.</source>
        <translation>Kopieren Sie den neuen Schlüssel jetzt: Er wird nur dieses eine Mal angezeigt.</translation>
    </message>
    <message>
        <source>The new key</source>
        <translation>Der neue Schlüssel</translation>
    </message>
    <message>
        <source>Copy the new key</source>
        <translation>Den neuen Schlüssel kopieren</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Kopieren</translation>
    </message>
    <message>
        <source>Hide the new key</source>
        <translation>Den neuen Schlüssel ausblenden</translation>
    </message>
    <message>
        <source>&amp;Done</source>
        <translation>&amp;Fertig</translation>
    </message>
    <message>
        <source>API keys</source>
        <translation>API-Schlüssel</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Key starts with</source>
        <translation>Schlüssel beginnt mit</translation>
    </message>
    <message>
        <source>Scopes</source>
        <translation>Rechte</translation>
    </message>
    <message>
        <source>Created</source>
        <translation>Erstellt</translation>
    </message>
    <message>
        <source>Last used</source>
        <translation>Zuletzt benutzt</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Revoke the selected key</source>
        <translation>Den ausgewählten Schlüssel widerrufen</translation>
    </message>
    <message>
        <source>Re&amp;voke…</source>
        <translation>&amp;Widerrufen…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>agmem Coordinator</source>
        <translation>agmem-Koordinator</translation>
    </message>
    <message>
        <source>Security warning</source>
        <translation>Sicherheitswarnung</translation>
    </message>
    <message>
        <source>The coordinator is reachable from the network and requires no API key: anyone who can reach this computer can push, pull and fill the database. Create a key on the API keys page.</source>
        <translation>Der Koordinator ist aus dem Netzwerk erreichbar und verlangt keinen API-Schlüssel: Wer diesen Rechner erreicht, kann Daten senden, abrufen und die Datenbank füllen. Erzeugen Sie einen Schlüssel auf der Seite API-Schlüssel.</translation>
    </message>
    <message>
        <source>Server</source>
        <translation>Server</translation>
    </message>
    <message>
        <source>Server state</source>
        <translation>Serverzustand</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Gestoppt</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>Serveradresse</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Host:</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Adresse, auf der gelauscht wird</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Port:</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Port, auf dem gelauscht wird</translation>
    </message>
    <message>
        <source>Start the server</source>
        <translation>Den Server starten</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Starten</translation>
    </message>
    <message>
        <source>Stop the server</source>
        <translation>Den Server stoppen</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>S&amp;toppen</translation>
    </message>
    <message>
        <source>Server error</source>
        <translation>Serverfehler</translation>
    </message>
    <message>
        <source>&amp;Agents</source>
        <translation>&amp;Agenten</translation>
    </message>
    <message>
        <source>Filter agents</source>
        <translation>Agenten filtern</translation>
    </message>
    <message>
        <source>Filter agents by id…</source>
        <translation>Agenten nach Kennung filtern…</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agenten</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Wählen Sie einen Agenten, um seine aktuelle Zusammenfassung zu sehen.</translation>
    </message>
    <message>
        <source>Topics of the selected agent</source>
        <translation>Themen des ausgewählten Agenten</translation>
    </message>
    <message>
        <source>Topic</source>
        <translation>Thema</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>Anzahl</translation>
    </message>
    <message>
        <source>Facts of the selected agent</source>
        <translation>Fakten des ausgewählten Agenten</translation>
    </message>
    <message>
        <source>Push history of the selected agent</source>
        <translation>Sendeverlauf des ausgewählten Agenten</translation>
    </message>
    <message>
        <source>Received</source>
        <translation>Empfangen</translation>
    </message>
    <message>
        <source>Summary time</source>
        <translation>Zeit der Zusammenfassung</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Quelle</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Themen</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Fakten</translation>
    </message>
    <message>
        <source>T&amp;opics</source>
        <translation>&amp;Themen</translation>
    </message>
    <message>
        <source>Filter topics</source>
        <translation>Themen filtern</translation>
    </message>
    <message>
        <source>Filter topics…</source>
        <translation>Themen filtern…</translation>
    </message>
    <message>
        <source>Merged topic counts</source>
        <translation>Zusammengeführte Themenzahlen</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Wählen Sie ein Thema, um zu sehen, welche Agenten es melden.</translation>
    </message>
    <message>
        <source>Agents reporting the selected topic</source>
        <translation>Agenten, die das ausgewählte Thema melden</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>&amp;Facts</source>
        <translation>&amp;Fakten</translation>
    </message>
    <message>
        <source>Filter facts</source>
        <translation>Fakten filtern</translation>
    </message>
    <message>
        <source>Filter facts…</source>
        <translation>Fakten filtern…</translation>
    </message>
    <message>
        <source>Unique facts</source>
        <translation>Eindeutige Fakten</translation>
    </message>
    <message>
        <source>A&amp;ctivity</source>
        <translation>A&amp;ktivität</translation>
    </message>
    <message>
        <source>Pause the activity list</source>
        <translation>Die Aktivitätsliste anhalten</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Anhalten</translation>
    </message>
    <message>
        <source>Clear the activity list</source>
        <translation>Die Aktivitätsliste leeren</translation>
    </message>
    <message>
        <source>C&amp;lear</source>
        <translation>&amp;Leeren</translation>
    </message>
    <message>
        <source>Latest requests</source>
        <translation>Letzte Anfragen</translation>
    </message>
    <message>
        <source>S&amp;hare with the team</source>
        <translation>Mit dem Team &amp;teilen</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Mit dem Team teilen</translation>
    </message>
    <message>
        <source>Share with the team: listen on every network interface</source>
        <translation>Mit dem Team teilen: auf allen Netzwerkschnittstellen lauschen</translation>
    </message>
    <message>
        <source>Off, the coordinator only answers programs on this computer. On, agents on other machines can reach it; give them an API key so nobody else can.</source>
        <translation>Aus: Der Koordinator antwortet nur Programmen auf diesem Rechner. An: Agenten auf anderen Rechnern erreichen ihn; geben Sie ihnen einen API-Schlüssel, damit es sonst niemand kann.</translation>
    </message>
    <message>
        <source>Create a &amp;key for the team…</source>
        <translation>&amp;Schlüssel für das Team erzeugen…</translation>
    </message>
    <message>
        <source>Paste this into &lt;code&gt;.mem/config.yaml&lt;/code&gt; of each agmem client:</source>
        <translation>Fügen Sie dies in die &lt;code&gt;.mem/config.yaml&lt;/code&gt; jedes agmem-Clients ein:</translation>
    </message>
    <message>
        <source>Client configuration snippet</source>
        <translation>Konfigurationsausschnitt für Clients</translation>
    </message>
    <message>
        <source>Copy the configuration snippet</source>
        <translation>Den Konfigurationsausschnitt kopieren</translation>
    </message>
    <message>
        <source>&amp;Copy</source>
        <translation>&amp;Kopieren</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Server</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;Copy address</source>
        <translation>Adresse &amp;kopieren</translation>
    </message>
    <message>
        <source>&amp;About agmem Coordinator</source>
        <translation>Ü&amp;ber den agmem-Koordinator</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>E&amp;xportieren…</translation>
    </message>
    <message>
        <source>Export the merged view, the agents or the history as JSON or CSV</source>
        <translation>Die zusammengeführte Sicht, die Agenten oder den Verlauf als JSON oder CSV exportieren</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>Host, port, merge mode, durability, limits, TLS and database location</source>
        <translation>Host, Port, Zusammenführungsmodus, Dauerhaftigkeit, Grenzwerte, TLS und Speicherort der Datenbank</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Settings overridden for this run</source>
        <translation>Für diesen Lauf überschriebene Einstellungen</translation>
    </message>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Server</translation>
    </message>
    <message>
        <source>&amp;Host:</source>
        <translation>&amp;Host:</translation>
    </message>
    <message>
        <source>Host address to listen on</source>
        <translation>Adresse, auf der gelauscht wird</translation>
    </message>
    <message>
        <source>Address to listen on. Anything but loopback exposes the coordinator to the network.</source>
        <translation>Adresse, auf der gelauscht wird. Alles außer Loopback macht den Koordinator im Netzwerk erreichbar.</translation>
    </message>
    <message>
        <source>Host address check</source>
        <translation>Prüfung der Host-Adresse</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Port:</translation>
    </message>
    <message>
        <source>Port to listen on</source>
        <translation>Port, auf dem gelauscht wird</translation>
    </message>
    <message>
        <source>TCP port to listen on; 0 picks a free one.</source>
        <translation>TCP-Port, auf dem gelauscht wird; 0 wählt einen freien.</translation>
    </message>
    <message>
        <source>Any free port</source>
        <translation>Beliebiger freier Port</translation>
    </message>
    <message>
        <source>Start serving when the app starts</source>
        <translation>Server beim Start der Anwendung starten</translation>
    </message>
    <message>
        <source>Start serving when the app sta&amp;rts</source>
        <translation>Server beim Start der Anwendung sta&amp;rten</translation>
    </message>
    <message>
        <source>Takes effect the next time the app starts. Without it, press Start in the window.</source>
        <translation>Wirkt beim nächsten Start der Anwendung. Ohne diese Option klicken Sie im Fenster auf „Starten“.</translation>
    </message>
    <message>
        <source>Host and port take effect when the server restarts. If it is running when you press OK or Apply, you are asked whether to restart it now.</source>
        <translation>Host und Port wirken beim Neustart des Servers. Läuft er, wenn Sie auf OK oder Anwenden klicken, werden Sie gefragt, ob er jetzt neu gestartet werden soll.</translation>
    </message>
    <message>
        <source>When server settings take effect</source>
        <translation>Wann Servereinstellungen wirksam werden</translation>
    </message>
    <message>
        <source>&amp;Merge &amp;&amp; storage</source>
        <translation>&amp;Zusammenführung &amp;&amp; Speicherung</translation>
    </message>
    <message>
        <source>Merge mode</source>
        <translation>Zusammenführungsmodus</translation>
    </message>
    <message>
        <source>Merge mode latest</source>
        <translation>Zusammenführungsmodus Neueste</translation>
    </message>
    <message>
        <source>Lat&amp;est</source>
        <translation>Neu&amp;este</translation>
    </message>
    <message>
        <source>Each agent&apos;s newest summary counts once; an older or repeated push changes nothing.</source>
        <translation>Die neueste Zusammenfassung jedes Agenten zählt einmal; eine ältere oder wiederholte Sendung ändert nichts.</translation>
    </message>
    <message>
        <source>Merge mode cumulative</source>
        <translation>Zusammenführungsmodus Kumulativ</translation>
    </message>
    <message>
        <source>C&amp;umulative</source>
        <translation>K&amp;umulativ</translation>
    </message>
    <message>
        <source>Every accepted push is added up, exactly like the reference server.</source>
        <translation>Jede angenommene Sendung wird aufaddiert, genau wie beim Referenzserver.</translation>
    </message>
    <message>
        <source>Durability</source>
        <translation>Dauerhaftigkeit</translation>
    </message>
    <message>
        <source>Durability full</source>
        <translation>Dauerhaftigkeit Vollständig</translation>
    </message>
    <message>
        <source>&amp;Full</source>
        <translation>&amp;Vollständig</translation>
    </message>
    <message>
        <source>A confirmed push survives a power loss.</source>
        <translation>Eine bestätigte Sendung übersteht einen Stromausfall.</translation>
    </message>
    <message>
        <source>Durability normal</source>
        <translation>Dauerhaftigkeit Normal</translation>
    </message>
    <message>
        <source>&amp;Normal</source>
        <translation>&amp;Normal</translation>
    </message>
    <message>
        <source>Faster: survives a crash of the coordinator, but not of the machine.</source>
        <translation>Schneller: übersteht einen Absturz des Koordinators, aber nicht des Rechners.</translation>
    </message>
    <message>
        <source>Merge mode and durability take effect when the server restarts; a new merge mode is recomputed from the stored history.</source>
        <translation>Zusammenführungsmodus und Dauerhaftigkeit wirken beim Neustart des Servers; bei einem neuen Zusammenführungsmodus wird die Zusammenführung aus dem gespeicherten Verlauf neu berechnet.</translation>
    </message>
    <message>
        <source>When merge mode and durability take effect</source>
        <translation>Wann Zusammenführungsmodus und Dauerhaftigkeit wirksam werden</translation>
    </message>
    <message>
        <source>Database</source>
        <translation>Datenbank</translation>
    </message>
    <message>
        <source>Data&amp;base:</source>
        <translation>Daten&amp;bank:</translation>
    </message>
    <message>
        <source>Database location</source>
        <translation>Speicherort der Datenbank</translation>
    </message>
    <message>
        <source>A SQLite file, sqlite:///path/file.db, :memory: (throwaway) or postgresql://user:password@host:5432/database.</source>
        <translation>Eine SQLite-Datei, sqlite:///path/file.db, :memory: (flüchtig) oder postgresql://user:password@host:5432/database.</translation>
    </message>
    <message>
        <source>Default: a SQLite file in the app-data folder</source>
        <translation>Standard: eine SQLite-Datei im Datenordner der Anwendung</translation>
    </message>
    <message>
        <source>Choose a SQLite database file</source>
        <translation>Eine SQLite-Datenbankdatei auswählen</translation>
    </message>
    <message>
        <source>Bro&amp;wse…</source>
        <translation>&amp;Durchsuchen…</translation>
    </message>
    <message>
        <source>Database location check</source>
        <translation>Prüfung des Datenbank-Speicherorts</translation>
    </message>
    <message>
        <source>A SQLite file, or postgresql://user:password@host:5432/database. Empty: the default.</source>
        <translation>Eine SQLite-Datei oder postgresql://user:password@host:5432/database. Leer: der Standard.</translation>
    </message>
    <message>
        <source>Takes effect when the app restarts: the window reads this database too.</source>
        <translation>Wirkt beim Neustart der Anwendung: Auch das Fenster liest diese Datenbank.</translation>
    </message>
    <message>
        <source>When the database location takes effect</source>
        <translation>Wann der Speicherort der Datenbank wirksam wird</translation>
    </message>
    <message>
        <source>&amp;Limits</source>
        <translation>&amp;Grenzwerte</translation>
    </message>
    <message>
        <source>Each push</source>
        <translation>Pro Sendung</translation>
    </message>
    <message>
        <source>Largest request &amp;body:</source>
        <translation>Max. Anfrage&amp;rumpf:</translation>
    </message>
    <message>
        <source>Largest request body in bytes</source>
        <translation>Höchstgröße des Anfragerumpfs in Byte</translation>
    </message>
    <message>
        <source>Largest request body accepted (else 413).</source>
        <translation>Größter angenommener Anfragerumpf (sonst 413).</translation>
    </message>
    <message>
        <source> bytes</source>
        <translation> Byte</translation>
    </message>
    <message>
        <source>Longest agent &amp;ID:</source>
        <translation>Max. Länge der Agenten&amp;kennung:</translation>
    </message>
    <message>
        <source>Longest agent ID in characters</source>
        <translation>Höchstlänge der Agentenkennung in Zeichen</translation>
    </message>
    <message>
        <source>Longest agent_id accepted.</source>
        <translation>Längste angenommene agent_id.</translation>
    </message>
    <message>
        <source> characters</source>
        <translation> Zeichen</translation>
    </message>
    <message>
        <source>Most to&amp;pics:</source>
        <translation>Max. The&amp;men:</translation>
    </message>
    <message>
        <source>Most topics in one summary</source>
        <translation>Höchstzahl an Themen in einer Zusammenfassung</translation>
    </message>
    <message>
        <source>Most topics in one summary.</source>
        <translation>Höchstzahl an Themen in einer Zusammenfassung.</translation>
    </message>
    <message>
        <source>Longest topic &amp;name:</source>
        <translation>Max. Länge des Themen&amp;namens:</translation>
    </message>
    <message>
        <source>Longest topic name in characters</source>
        <translation>Höchstlänge eines Themennamens in Zeichen</translation>
    </message>
    <message>
        <source>Longest topic name.</source>
        <translation>Höchstlänge eines Themennamens.</translation>
    </message>
    <message>
        <source>Most &amp;facts:</source>
        <translation>Max. &amp;Fakten:</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary</source>
        <translation>Höchstzahl an Fakten-Hashes in einer Zusammenfassung</translation>
    </message>
    <message>
        <source>Most fact hashes in one summary.</source>
        <translation>Höchstzahl an Fakten-Hashes in einer Zusammenfassung.</translation>
    </message>
    <message>
        <source>Longest fact &amp;hash:</source>
        <translation>Max. Länge des Fakten-&amp;Hashes:</translation>
    </message>
    <message>
        <source>Longest fact hash or label in characters</source>
        <translation>Höchstlänge eines Fakten-Hashes oder einer Bezeichnung in Zeichen</translation>
    </message>
    <message>
        <source>Longest fact hash or label.</source>
        <translation>Höchstlänge eines Fakten-Hashes oder einer Bezeichnung.</translation>
    </message>
    <message>
        <source>Lar&amp;gest metadata:</source>
        <translation>Max. Größe der Meta&amp;daten:</translation>
    </message>
    <message>
        <source>Largest metadata object in bytes</source>
        <translation>Höchstgröße des Metadatenobjekts in Byte</translation>
    </message>
    <message>
        <source>Largest metadata object (as compact JSON).</source>
        <translation>Höchstgröße des Metadatenobjekts (als kompaktes JSON).</translation>
    </message>
    <message>
        <source>Connections</source>
        <translation>Verbindungen</translation>
    </message>
    <message>
        <source>Most open conn&amp;ections:</source>
        <translation>Max. offene &amp;Verbindungen:</translation>
    </message>
    <message>
        <source>Most open connections</source>
        <translation>Höchstzahl offener Verbindungen</translation>
    </message>
    <message>
        <source>Open connections at most; more are answered 503.</source>
        <translation>Höchstzahl offener Verbindungen; weitere erhalten die Antwort 503.</translation>
    </message>
    <message>
        <source>Idle timeo&amp;ut:</source>
        <translation>&amp;Leerlauf-Timeout:</translation>
    </message>
    <message>
        <source>Idle timeout in seconds</source>
        <translation>Leerlauf-Timeout in Sekunden</translation>
    </message>
    <message>
        <source>A keep-alive connection with no request is closed after this long.</source>
        <translation>Eine Keep-alive-Verbindung ohne Anfrage wird nach dieser Zeit geschlossen.</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>&amp;Read timeout:</source>
        <translation>Les&amp;e-Timeout:</translation>
    </message>
    <message>
        <source>Read timeout in seconds</source>
        <translation>Lese-Timeout in Sekunden</translation>
    </message>
    <message>
        <source>A request must arrive whole within this long (else 408).</source>
        <translation>Eine Anfrage muss innerhalb dieser Zeit vollständig eintreffen (sonst 408).</translation>
    </message>
    <message>
        <source>Largest re&amp;quest head:</source>
        <translation>Max. Anfragek&amp;opf:</translation>
    </message>
    <message>
        <source>Largest request head in bytes</source>
        <translation>Höchstgröße des Anfragekopfs in Byte</translation>
    </message>
    <message>
        <source>Largest request line plus headers (else 431).</source>
        <translation>Höchstgröße von Anfragezeile plus Headern (sonst 431).</translation>
    </message>
    <message>
        <source>Rate limit per &amp;key:</source>
        <translation>Ratenl&amp;imit pro Schlüssel:</translation>
    </message>
    <message>
        <source>Rate limit in requests per second</source>
        <translation>Ratenlimit in Anfragen pro Sekunde</translation>
    </message>
    <message>
        <source>Requests per second per API key (per address without a key), bursts of twice as many; 0 turns it off.</source>
        <translation>Anfragen pro Sekunde je API-Schlüssel (ohne Schlüssel je Adresse), Spitzen bis zur doppelten Menge; 0 schaltet es ab.</translation>
    </message>
    <message>
        <source> requests/s</source>
        <translation> Anfragen/s</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>Aus</translation>
    </message>
    <message>
        <source>Limits take effect when the server restarts.</source>
        <translation>Grenzwerte wirken beim Neustart des Servers.</translation>
    </message>
    <message>
        <source>When limits take effect</source>
        <translation>Wann Grenzwerte wirksam werden</translation>
    </message>
    <message>
        <source>&amp;TLS</source>
        <translation>&amp;TLS</translation>
    </message>
    <message>
        <source>Cert&amp;ificate:</source>
        <translation>Zert&amp;ifikat:</translation>
    </message>
    <message>
        <source>TLS certificate file</source>
        <translation>TLS-Zertifikatsdatei</translation>
    </message>
    <message>
        <source>Serve HTTPS with this certificate (chain), a PEM file.</source>
        <translation>HTTPS mit diesem Zertifikat (bzw. dieser Zertifikatskette) ausliefern; eine PEM-Datei.</translation>
    </message>
    <message>
        <source>Choose the certificate file</source>
        <translation>Die Zertifikatsdatei auswählen</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Durchsuchen…</translation>
    </message>
    <message>
        <source>Private &amp;key:</source>
        <translation>&amp;Privater Schlüssel:</translation>
    </message>
    <message>
        <source>TLS private key file</source>
        <translation>Datei des privaten TLS-Schlüssels</translation>
    </message>
    <message>
        <source>The certificate&apos;s unencrypted private key, a PEM file.</source>
        <translation>Der unverschlüsselte private Schlüssel des Zertifikats; eine PEM-Datei.</translation>
    </message>
    <message>
        <source>Choose the private key file</source>
        <translation>Die Datei des privaten Schlüssels auswählen</translation>
    </message>
    <message>
        <source>TLS files check</source>
        <translation>Prüfung der TLS-Dateien</translation>
    </message>
    <message>
        <source>Both files or neither. With both, the server answers HTTPS only; the agmem clients then need an https:// coordinator_url. Takes effect when the server restarts.</source>
        <translation>Beide Dateien oder keine. Mit beiden antwortet der Server nur per HTTPS; die agmem-Clients brauchen dann eine coordinator_url mit https://. Wirkt beim Neustart des Servers.</translation>
    </message>
    <message>
        <source>When TLS takes effect</source>
        <translation>Wann TLS wirksam wird</translation>
    </message>
</context>
<context>
    <name>agmem::ActivityModel</name>
    <message>
        <source>(refused before reading)</source>
        <translation>(vor dem Lesen abgewiesen)</translation>
    </message>
    <message>
        <source>merged</source>
        <translation>zusammengeführt</translation>
    </message>
    <message>
        <source>accepted, merge unchanged (repeated or older summary)</source>
        <translation>angenommen, Zusammenführung unverändert (wiederholte oder ältere Zusammenfassung)</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>Request</source>
        <translation>Anfrage</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>Quelle</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <source>Result</source>
        <translation>Ergebnis</translation>
    </message>
</context>
<context>
    <name>agmem::AgentsModel</name>
    <message>
        <source>Agent</source>
        <translation>Agent</translation>
    </message>
    <message>
        <source>First seen</source>
        <translation>Zuerst gesehen</translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation>Zuletzt gesehen</translation>
    </message>
    <message>
        <source>Pushes</source>
        <translation>Sendungen</translation>
    </message>
    <message>
        <source>Topics</source>
        <translation>Themen</translation>
    </message>
    <message>
        <source>Facts</source>
        <translation>Fakten</translation>
    </message>
</context>
<context>
    <name>agmem::ExportDialog</name>
    <message>
        <source>Merged view (as /pull answers it)</source>
        <translation>Zusammengeführte Sicht (wie /pull sie liefert)</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agenten</translation>
    </message>
    <message>
        <source>History (every push)</source>
        <translation>Verlauf (jede Sendung)</translation>
    </message>
    <message>
        <source>JSON</source>
        <translation>JSON</translation>
    </message>
    <message>
        <source>CSV</source>
        <translation>CSV</translation>
    </message>
    <message>
        <source>Exactly the answer of GET /pull: merged topic counts, unique facts, contributing agents.</source>
        <translation>Genau die Antwort von GET /pull: zusammengeführte Themenzahlen, eindeutige Fakten, beteiligte Agenten.</translation>
    </message>
    <message>
        <source>One table: kind (topic or fact), name, count (merged count of a topic, number of agents holding a fact).</source>
        <translation>Eine Tabelle: Art (Thema oder Fakt), Name, Anzahl (zusammengeführte Anzahl eines Themas, Zahl der Agenten mit einem Fakt).</translation>
    </message>
    <message>
        <source>Per agent: id, first and last seen (UTC), pushes, topics and facts of its current summary.</source>
        <translation>Pro Agent: Kennung, zuerst und zuletzt gesehen (UTC), Sendungen, Themen und Fakten seiner aktuellen Zusammenfassung.</translation>
    </message>
    <message>
        <source>JSON lines: one push per line, oldest first, with its topic counts, facts and metadata.</source>
        <translation>JSON Lines: eine Sendung pro Zeile, älteste zuerst, mit ihren Themenzahlen, Fakten und Metadaten.</translation>
    </message>
    <message>
        <source>One row per push, oldest first: agent, timestamps, source and the numbers of its topics and facts.</source>
        <translation>Eine Zeile pro Sendung, älteste zuerst: Agent, Zeitstempel, Quelle und die Anzahl ihrer Themen und Fakten.</translation>
    </message>
    <message>
        <source>Text starting with = + - or @ gets a leading apostrophe, so spreadsheets do not run it as a formula.</source>
        <translation>Text, der mit = + - oder @ beginnt, erhält einen vorangestellten Apostroph, damit Tabellenkalkulationen ihn nicht als Formel ausführen.</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV-Dateien (*.csv)</translation>
    </message>
    <message>
        <source>JSON lines (*.jsonl *.json)</source>
        <translation>JSON Lines (*.jsonl *.json)</translation>
    </message>
    <message>
        <source>JSON files (*.json)</source>
        <translation>JSON-Dateien (*.json)</translation>
    </message>
    <message>
        <source>All files (*)</source>
        <translation>Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>Exportieren nach</translation>
    </message>
    <message>
        <source>Choose a file to export to.</source>
        <translation>Wählen Sie eine Datei für den Export.</translation>
    </message>
    <message>
        <source>Exporting…</source>
        <translation>Export läuft…</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Wird abgebrochen…</translation>
    </message>
    <message>
        <source>Exporting… %1 of %2</source>
        <translation>Export läuft… %1 von %2</translation>
    </message>
    <message>
        <source>Exported to %1. %2 · Bytes: %3</source>
        <translation>Nach %1 exportiert. %2 · Bytes: %3</translation>
    </message>
    <message>
        <source>Export cancelled; no file was written.</source>
        <translation>Export abgebrochen; es wurde keine Datei geschrieben.</translation>
    </message>
    <message>
        <source>Export failed: %1</source>
        <translation>Export fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Topics and facts: %1</source>
        <translation>Themen und Fakten: %1</translation>
    </message>
    <message>
        <source>Agents: %1</source>
        <translation>Agenten: %1</translation>
    </message>
    <message>
        <source>Pushes: %1</source>
        <translation>Sendungen: %1</translation>
    </message>
</context>
<context>
    <name>agmem::FactsModel</name>
    <message>
        <source>Fact</source>
        <translation>Fakt</translation>
    </message>
    <message>
        <source>Agents holding it</source>
        <translation>Agenten mit diesem Fakt</translation>
    </message>
</context>
<context>
    <name>agmem::KeysPage</name>
    <message>
        <source>The key is on the clipboard.</source>
        <translation>Der Schlüssel ist in der Zwischenablage.</translation>
    </message>
    <message>
        <source>Cannot read the keys: %1</source>
        <translation>Die Schlüssel können nicht gelesen werden: %1</translation>
    </message>
    <message>
        <source>never</source>
        <translation>nie</translation>
    </message>
    <message>
        <source>active</source>
        <translation>aktiv</translation>
    </message>
    <message>
        <source>revoked %1</source>
        <translation>widerrufen %1</translation>
    </message>
    <message>
        <source>Cannot create the key: %1</source>
        <translation>Der Schlüssel kann nicht erzeugt werden: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; created.</source>
        <translation>Schlüssel „%1“ erzeugt.</translation>
    </message>
    <message>
        <source>Give the key a name, so you know later who uses it.</source>
        <translation>Geben Sie dem Schlüssel einen Namen, damit Sie später wissen, wer ihn benutzt.</translation>
    </message>
    <message>
        <source>Choose at least one scope.</source>
        <translation>Wählen Sie mindestens ein Recht.</translation>
    </message>
    <message>
        <source>Cannot revoke the key: %1</source>
        <translation>Der Schlüssel kann nicht widerrufen werden: %1</translation>
    </message>
    <message>
        <source>Key &quot;%1&quot; revoked.</source>
        <translation>Schlüssel „%1“ widerrufen.</translation>
    </message>
    <message>
        <source>Revoke key</source>
        <translation>Schlüssel widerrufen</translation>
    </message>
    <message>
        <source>Revoke the key &quot;%1&quot; (%2)? Clients using it are refused within a few seconds. This cannot be undone.</source>
        <translation>Den Schlüssel „%1“ (%2) widerrufen? Clients, die ihn benutzen, werden binnen weniger Sekunden abgewiesen. Das lässt sich nicht rückgängig machen.</translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation>Widerrufen</translation>
    </message>
</context>
<context>
    <name>agmem::MainWindow</name>
    <message>
        <source>API &amp;keys</source>
        <translation>API-&amp;Schlüssel</translation>
    </message>
    <message>
        <source>Snippet copied to the clipboard.</source>
        <translation>Ausschnitt in die Zwischenablage kopiert.</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Fortsetzen</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Anhalten</translation>
    </message>
    <message>
        <source>Paused: new requests are held.</source>
        <translation>Angehalten: Neue Anfragen werden zurückgehalten.</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>&amp;Anzeigen</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>„%1“ ist keine IP-Adresse (127.0.0.1 nur für diesen Rechner, 0.0.0.0 für alle Netzwerkschnittstellen).</translation>
    </message>
    <message>
        <source>Stopped</source>
        <translation>Gestoppt</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Fehler</translation>
    </message>
    <message>
        <source>Starting…</source>
        <translation>Startet…</translation>
    </message>
    <message>
        <source>Listening on</source>
        <translation>Lauscht auf</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>Stoppt…</translation>
    </message>
    <message>
        <source>Could not start: %1</source>
        <translation>Start fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Listening on %1</source>
        <translation>Lauscht auf %1</translation>
    </message>
    <message>
        <source>agmem Coordinator: %1</source>
        <translation>agmem-Koordinator: %1</translation>
    </message>
    <message>
        <source>Includes the team key created in this session.</source>
        <translation>Enthält den in dieser Sitzung erzeugten Team-Schlüssel.</translation>
    </message>
    <message>
        <source>Replace YOUR_KEY with a key that has the push and pull scopes.</source>
        <translation>Ersetzen Sie YOUR_KEY durch einen Schlüssel mit den Rechten push und pull.</translation>
    </message>
    <message>
        <source>The server is not running.</source>
        <translation>Der Server läuft nicht.</translation>
    </message>
    <message>
        <source>Share with the team</source>
        <translation>Mit dem Team teilen</translation>
    </message>
    <message>
        <source>Listen on every network interface? Agents on other machines can then reach the coordinator; so can anyone else on the network unless an API key is required.</source>
        <translation>Auf allen Netzwerkschnittstellen lauschen? Dann erreichen Agenten auf anderen Rechnern den Koordinator – ebenso jeder andere im Netzwerk, solange kein API-Schlüssel verlangt wird.</translation>
    </message>
    <message>
        <source>Share</source>
        <translation>Teilen</translation>
    </message>
    <message>
        <source>Create a key</source>
        <translation>Schlüssel erzeugen</translation>
    </message>
    <message>
        <source>No API key with the push and pull scopes exists yet. Create one for the team now? The server then refuses requests without a key.</source>
        <translation>Es gibt noch keinen API-Schlüssel mit den Rechten push und pull. Jetzt einen für das Team erzeugen? Der Server weist dann Anfragen ohne Schlüssel ab.</translation>
    </message>
    <message>
        <source>Create key</source>
        <translation>Schlüssel erzeugen</translation>
    </message>
    <message>
        <source>team</source>
        <translation>Team</translation>
    </message>
    <message>
        <source>Created the key &quot;team&quot; (push, pull); it is in the snippet below.</source>
        <translation>Schlüssel „Team“ (push, pull) erzeugt; er steht im Ausschnitt unten.</translation>
    </message>
    <message>
        <source>Select an agent to see its current summary.</source>
        <translation>Wählen Sie einen Agenten, um seine aktuelle Zusammenfassung zu sehen.</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;No current summary.</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Keine aktuelle Zusammenfassung.</translation>
    </message>
    <message>
        <source>Select a topic to see which agents report it.</source>
        <translation>Wählen Sie ein Thema, um zu sehen, welche Agenten es melden.</translation>
    </message>
    <message>
        <source>About agmem Coordinator</source>
        <translation>Über den agmem-Koordinator</translation>
    </message>
    <message>
        <source>&lt;h3&gt;agmem Coordinator %1&lt;/h3&gt;&lt;p&gt;Coordinator for agmem agent-memory federation: agents push summaries of their memory and pull the merged view of every agent.&lt;/p&gt;&lt;p&gt;Database: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation>&lt;h3&gt;agmem-Koordinator %1&lt;/h3&gt;&lt;p&gt;Koordinator für die agmem-Föderation von Agentengedächtnissen: Agenten senden Zusammenfassungen ihres Gedächtnisses und rufen die zusammengeführte Sicht aller Agenten ab.&lt;/p&gt;&lt;p&gt;Datenbank: %2&lt;br&gt;Qt %3&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Paused · new requests held: %1</source>
        <translation>Angehalten · zurückgehaltene neue Anfragen: %1</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… und %1 weitere</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · Agenten, die es melden: %2</translation>
    </message>
    <message>
        <source>Unique facts: %1</source>
        <translation>Eindeutige Fakten: %1</translation>
    </message>
    <message>
        <source>Matching: %1 of %2 facts</source>
        <translation>Treffer: %1 von %2 Fakten</translation>
    </message>
    <message>
        <source>Agents: %1 · Topics: %2 · Unique facts: %3 · Pushes in total: %4</source>
        <translation>Agenten: %1 · Themen: %2 · Eindeutige Fakten: %3 · Sendungen insgesamt: %4</translation>
    </message>
    <message>
        <source>The new database location is used when the app restarts.</source>
        <translation>Der neue Speicherort der Datenbank wird beim Neustart der Anwendung verwendet.</translation>
    </message>
    <message>
        <source>Restart the server?</source>
        <translation>Den Server neu starten?</translation>
    </message>
    <message>
        <source>The changed settings take effect when the server restarts. Restart it now? Open connections are closed; agents reach it again at their next push.</source>
        <translation>Die geänderten Einstellungen wirken beim Neustart des Servers. Jetzt neu starten? Offene Verbindungen werden geschlossen; Agenten erreichen ihn bei ihrer nächsten Sendung wieder.</translation>
    </message>
    <message>
        <source>&amp;Restart</source>
        <translation>&amp;Neu starten</translation>
    </message>
    <message>
        <source>The new settings apply when the server next starts.</source>
        <translation>Die neuen Einstellungen gelten beim nächsten Start des Servers.</translation>
    </message>
    <message>
        <source>Totals</source>
        <translation>Summen</translation>
    </message>
    <message numerus="yes">
        <source>no answer for %n second(s)</source>
        <translation>
            <numerusform>seit %n Sekunde keine Antwort</numerusform>
            <numerusform>seit %n Sekunden keine Antwort</numerusform>
        </translation>
    </message>
    <message>
        <source>The database %1 cannot be reached since %2 (%3). The window shows what was read before and keeps trying.</source>
        <translation>Die Datenbank %1 ist seit %2 nicht erreichbar (%3). Das Fenster zeigt, was zuvor gelesen wurde, und versucht es weiter.</translation>
    </message>
    <message>
        <source>Reading the database…</source>
        <translation>Datenbank wird gelesen…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Reading the database…</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Datenbank wird gelesen…</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · %3 · %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Aktuelle Zusammenfassung vom %2 · %3 · %4</translation>
    </message>
    <message numerus="yes">
        <source>%n topic(s)</source>
        <translation>
            <numerusform>%n Thema</numerusform>
            <numerusform>%n Themen</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n fact(s)</source>
        <translation>
            <numerusform>%n Fakt</numerusform>
            <numerusform>%n Fakten</numerusform>
        </translation>
    </message>
    <message>
        <source>Reading the history…</source>
        <translation>Verlauf wird gelesen…</translation>
    </message>
    <message>
        <source>The history cannot be read: %1</source>
        <translation>Der Verlauf kann nicht gelesen werden: %1</translation>
    </message>
</context>
<context>
    <name>agmem::PushRateChart</name>
    <message>
        <source>Pushes per minute, last hour: total %1, peak %2</source>
        <translation>Sendungen pro Minute, letzte Stunde: insgesamt %1, Spitze %2</translation>
    </message>
    <message>
        <source>This minute: %1. Scale: 0 to %2 pushes per minute; bars from 60 minutes ago to now.</source>
        <translation>Diese Minute: %1. Skala: 0 bis %2 Sendungen pro Minute; Balken von vor 60 Minuten bis jetzt.</translation>
    </message>
    <message>
        <source>This minute: %1 · Last hour: %2</source>
        <translation>Diese Minute: %1 · Letzte Stunde: %2</translation>
    </message>
    <message>
        <source>%1–%2
Not read: too many pushes in the history to read at start</source>
        <translation>%1–%2
Nicht gelesen: zu viele Sendungen im Verlauf, um sie beim Start zu lesen</translation>
    </message>
    <message>
        <source>This minute, %1–%2
Pushes so far: %3</source>
        <translation>Diese Minute, %1–%2
Bisherige Sendungen: %3</translation>
    </message>
    <message>
        <source>%1–%2
Pushes: %3</source>
        <translation>%1–%2
Sendungen: %3</translation>
    </message>
    <message>
        <source>Pushes per minute</source>
        <translation>Sendungen pro Minute</translation>
    </message>
    <message>
        <source>No pushes in the last hour</source>
        <translation>Keine Sendungen in der letzten Stunde</translation>
    </message>
    <message>
        <source>−%1 min</source>
        <translation>−%1 min</translation>
    </message>
    <message>
        <source>now</source>
        <translation>jetzt</translation>
    </message>
</context>
<context>
    <name>agmem::SettingsDialog</name>
    <message>
        <source>Restore &amp;defaults</source>
        <translation>Standard&amp;werte wiederherstellen</translation>
    </message>
    <message>
        <source>TLS certificate</source>
        <translation>TLS-Zertifikat</translation>
    </message>
    <message>
        <source>TLS private key</source>
        <translation>Privater TLS-Schlüssel</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>The settings could not be saved to %1.</source>
        <translation>Die Einstellungen konnten nicht in %1 gespeichert werden.</translation>
    </message>
    <message>
        <source>Enter an address: 127.0.0.1 for this computer only, 0.0.0.0 for every network interface.</source>
        <translation>Geben Sie eine Adresse ein: 127.0.0.1 nur für diesen Rechner, 0.0.0.0 für alle Netzwerkschnittstellen.</translation>
    </message>
    <message>
        <source>&quot;%1&quot; is not an IP address (use 127.0.0.1 for this computer only, 0.0.0.0 for every network interface).</source>
        <translation>„%1“ ist keine IP-Adresse (127.0.0.1 nur für diesen Rechner, 0.0.0.0 für alle Netzwerkschnittstellen).</translation>
    </message>
    <message>
        <source>Only this computer can connect.</source>
        <translation>Nur dieser Rechner kann sich verbinden.</translation>
    </message>
    <message>
        <source>Every network interface: other machines can reach the coordinator. Create an API key for them.</source>
        <translation>Alle Netzwerkschnittstellen: Andere Rechner können den Koordinator erreichen. Erzeugen Sie einen API-Schlüssel für sie.</translation>
    </message>
    <message>
        <source>Only connections to %1 are accepted.</source>
        <translation>Nur Verbindungen an %1 werden angenommen.</translation>
    </message>
    <message>
        <source>Not a database location: %1</source>
        <translation>Kein gültiger Speicherort für die Datenbank: %1</translation>
    </message>
    <message>
        <source>Default: the SQLite file %1</source>
        <translation>Standard: die SQLite-Datei %1</translation>
    </message>
    <message>
        <source>SQLite file %1</source>
        <translation>SQLite-Datei %1</translation>
    </message>
    <message>
        <source>In memory: everything is lost when the app quits.</source>
        <translation>Im Arbeitsspeicher: Beim Beenden der Anwendung geht alles verloren.</translation>
    </message>
    <message>
        <source>PostgreSQL database &quot;%1&quot; on %2, port %3.</source>
        <translation>PostgreSQL-Datenbank „%1“ auf %2, Port %3.</translation>
    </message>
    <message>
        <source>The password is saved as plain text in the settings file (~/.pgpass keeps it out).</source>
        <translation>Das Passwort wird im Klartext in der Einstellungsdatei gespeichert (mit ~/.pgpass bleibt es außen vor).</translation>
    </message>
    <message>
        <source>No TLS: the server speaks plain HTTP.</source>
        <translation>Kein TLS: Der Server spricht unverschlüsseltes HTTP.</translation>
    </message>
    <message>
        <source>Choose both a certificate and its private key, or neither.</source>
        <translation>Wählen Sie sowohl ein Zertifikat als auch seinen privaten Schlüssel oder keines von beiden.</translation>
    </message>
    <message>
        <source>The file %1 does not exist.</source>
        <translation>Die Datei %1 existiert nicht.</translation>
    </message>
    <message>
        <source>TLS is not available on this system (%1).</source>
        <translation>TLS ist auf diesem System nicht verfügbar (%1).</translation>
    </message>
    <message>
        <source>Cannot read %1: %2</source>
        <translation>%1 kann nicht gelesen werden: %2</translation>
    </message>
    <message>
        <source>%1 holds no PEM certificate.</source>
        <translation>%1 enthält kein PEM-Zertifikat.</translation>
    </message>
    <message>
        <source>%1 holds no unencrypted PEM private key.</source>
        <translation>%1 enthält keinen unverschlüsselten privaten PEM-Schlüssel.</translation>
    </message>
    <message>
        <source>%1 does not belong to the certificate %2 (%3).</source>
        <translation>%1 gehört nicht zum Zertifikat %2 (%3).</translation>
    </message>
    <message>
        <source>HTTPS with the certificate for %1, valid until %2.</source>
        <translation>HTTPS mit dem Zertifikat für %1, gültig bis %2.</translation>
    </message>
    <message>
        <source>It has expired: clients will refuse it.</source>
        <translation>Es ist abgelaufen: Clients werden es ablehnen.</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>For this run, %1 sets this; the value saved here is used at a launch without it.</source>
        <translation>In diesem Lauf legt %1 diesen Wert fest; der hier gespeicherte Wert gilt bei einem Start ohne diese Angabe.</translation>
    </message>
    <message>
        <source>Set by the command line or the environment for this run, so the saved value is not used now: %1. What you save here applies at a launch without them.</source>
        <translation>In diesem Lauf über die Befehlszeile oder die Umgebung festgelegt, daher wird der gespeicherte Wert jetzt nicht verwendet: %1. Was Sie hier speichern, gilt bei einem Start ohne diese Angaben.</translation>
    </message>
    <message>
        <source>Database file</source>
        <translation>Datenbankdatei</translation>
    </message>
    <message>
        <source>SQLite databases (*.db *.sqlite *.sqlite3);;All files (*)</source>
        <translation>SQLite-Datenbanken (*.db *.sqlite *.sqlite3);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>PEM files (*.pem *.crt *.cer *.key);;All files (*)</source>
        <translation>PEM-Dateien (*.pem *.crt *.cer *.key);;Alle Dateien (*)</translation>
    </message>
</context>
<context>
    <name>agmem::TopicsModel</name>
    <message>
        <source>Topic</source>
        <translation>Thema</translation>
    </message>
    <message>
        <source>Merged count</source>
        <translation>Summe</translation>
    </message>
    <message>
        <source>Agents</source>
        <translation>Agenten</translation>
    </message>
</context>
</TS>
