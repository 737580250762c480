<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de">
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
        <source>Cannot open the database: %1</source>
        <translation>Die Datenbank kann nicht geöffnet werden: %1</translation>
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
        <source>%1 unique facts</source>
        <translation>%1 eindeutige Fakten</translation>
    </message>
    <message>
        <source>%1 of %2 facts match</source>
        <translation>%1 von %2 Fakten passen</translation>
    </message>
    <message>
        <source>%1 agents · %2 topics · %3 unique facts · %4 pushes in total</source>
        <translation>%1 Agenten · %2 Themen · %3 eindeutige Fakten · %4 Sendungen insgesamt</translation>
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
        <source>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Current summary from %2 · topics: %3 · facts: %4</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;&lt;br&gt;Aktuelle Zusammenfassung vom %2 · Themen: %3 · Fakten: %4</translation>
    </message>
    <message>
        <source>… and %1 more</source>
        <translation>… und %1 weitere</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · agents reporting it: %2</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · Agenten, die es melden: %2</translation>
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
