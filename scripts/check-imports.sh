#!/bin/sh
# Fails when a module imports a Kindred module it may not: the table in ARCHITECTURE.md
# ("Modules"), kept here as the list each module may import. Lower modules never import higher
# ones; in particular Protocol never imports the engine or the server, Analysis and Features
# never import Store, and Watch never imports Features.
set -eu
cd "$(dirname "$0")/.."

allowed() {
    case $1 in
        KindredCore) echo "" ;;
        KindredStore | KindredIndex | KindredImaging | KindredProtocol | KindredWatch) echo "KindredCore" ;;
        KindredFeatures) echo "KindredCore KindredImaging" ;;
        KindredAnalysis) echo "KindredCore KindredIndex" ;;
        KindredVisuals) echo "KindredCore KindredStore KindredImaging" ;;
        KindredEngine) echo "KindredCore KindredStore KindredIndex KindredImaging KindredFeatures KindredAnalysis KindredWatch" ;;
        KindredServer) echo "KindredCore KindredStore KindredIndex KindredImaging KindredFeatures KindredAnalysis KindredProtocol KindredEngine" ;;
        *) echo "UNLISTED" ;;
    esac
}

status=0
found=$(mktemp)
for directory in Sources/Kindred*; do
    module=$(basename "$directory")
    permitted=$(allowed "$module")
    if [ "$permitted" = UNLISTED ]; then
        echo "check-imports: $module is not in the table (scripts/check-imports.sh, ARCHITECTURE.md)" >&2
        status=1
        continue
    fi
    grep -rn --include='*.swift' -E '^(@[A-Za-z_]+ )*import +Kindred[A-Za-z]*' "$directory" | while IFS=: read -r file line text; do
        imported=$(echo "$text" | sed -E 's/^(@[A-Za-z_]+ )*import +//; s/[^A-Za-z].*$//')
        case " $permitted " in
            *" $imported "*) ;;
            *) echo "$file:$line: $module may not import $imported" ;;
        esac
    done
done >"$found"
if [ -s "$found" ]; then
    cat "$found" >&2
    status=1
fi
rm -f "$found"
[ $status -eq 0 ] && echo "check-imports: every module imports only what it may"
exit $status
