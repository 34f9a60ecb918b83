#!/bin/sh
# ironbox USB appliance: the live status panel on tty1 (every 5 s), and one
# `IRONBOX-READY` line on the console when the API first answers.
. /etc/appliance/lib.sh
READY=
while :; do
  PW=$(cat /data/ironbox/password 2>/dev/null)
  API="http://admin:$PW@127.0.0.1:6385"
  # (busybox 1.35 wget -T segfaults; timeout instead)
  NODES=$(timeout 5 wget -q -O - "$API/v1/nodes" 2>/dev/null)
  OK=$?
  ADDRS=$(ip -4 -o addr show | grep -v ' lo ' | awk '{print $2 " " $4}')
  IP=$(echo "$ADDRS" | head -n1 | awk '{print $2}' | cut -d/ -f1)
  if [ $OK = 0 ] && [ -z "$READY" ]; then
    READY=1
    say "IRONBOX-READY at $(cut -d' ' -f1 /proc/uptime) s: http://$IP:6385/ui/ dhcp=$(cat /run/dhcp-mode 2>/dev/null || echo file)"
  fi
  USE=$(df /data 2>/dev/null | awk 'NR==2 {print $5}' | tr -d %)
  if [ "${USE:-0}" -ge 95 ]; then
    grep -q 'data partition' /run/problems 2>/dev/null || problem "data partition ${USE}% full"
  fi
  {
    printf '\033[H\033[J'
    echo "ironbox appliance                               $(date -u '+%F %T') UTC"
    echo "=============================================================================="
    echo "Web UI and API : http://${IP:-<no address>}:6385/ui/"
    echo "Login          : admin / ${PW:-<none>}   (also IRONBOX:/PASSWORD.TXT)"
    echo "Configuration  : $(cat /run/config-source 2>/dev/null)"
    echo "Addresses      :"; echo "$ADDRS" | sed 's/^/    /'
    echo "Data partition : $(df -h /data 2>/dev/null | awk 'NR==2 {print $3 " used of " $2 " (" $5 ")"}')"
    if [ $OK = 0 ]; then
      echo "Nodes by provision state:"
      echo "$NODES" | grep -o '"provision_state": *"[^"]*"' | cut -d'"' -f4 | sort | uniq -c | sed 's/^/  /'
      echo "$NODES" | grep -q provision_state || echo "  (none enrolled)"
    else
      echo "API            : not answering yet"
    fi
    if [ -s /run/config-error ]; then
      echo; echo "CONFIGURATION ERROR (IRONBOX:/CONFIG-ERROR.TXT):"; sed 's/^/  /' /run/config-error
    fi
    echo; echo "Last problems and errors:"
    { tail -n 3 /run/problems 2>/dev/null
      grep -E ' (ERROR|WARN) ' /data/logs/ironbox.log 2>/dev/null | tail -n 4 | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-160
    } | sed 's/^/  /'
  } > /dev/tty1 2>/dev/null
  sleep 5
done
