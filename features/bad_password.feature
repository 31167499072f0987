Feature: Bad password
  A login with a wrong password is refused by Finesse; the app is told 401, the password
  is never echoed, and the agent stays logged out. After three failures in five minutes
  the connector stops asking Finesse (429), before Finesse's lock-out (five) is reached.

  Scenario Outline: A wrong password is refused, whatever the kind of login
    When agent 1001 tries to log in through the app with:
      | password   | mode   | extension | dial number   |
      | <password> | <mode> | 5001      | <dial number> |
    Then it is refused with 401 Authorization Failure
    And the refusal does not mention "<password>"
    And agent 1001 is LOGOUT in Finesse
    And the connector holds 0 sessions

    Examples:
      | password    | mode              | dial number  |
      | nope        | desk              |              |
      | Password    | CALL_BY_CALL      | +15551230001 |
      | pass word 2 | NAILED_CONNECTION | +15551230001 |

  Scenario: An agent id Finesse does not know is refused
    When agent 1099 tries to log in through the app with:
      | password | mode | extension |
      | password | desk | 5009      |
    Then it is refused with 401 Authorization Failure
    And Finesse refuses agent 1099's password
    And the connector holds 0 sessions

  Scenario: The right password after a wrong one signs the agent in
    When agent 1001 tries to log in through the app with:
      | password | mode         | dial number  |
      | nope     | CALL_BY_CALL | +15551230001 |
    Then it is refused with 401 Authorization Failure
    When agent 1001 tries to log in through the app with:
      | password | mode         | dial number  |
      | password | CALL_BY_CALL | +15551230001 |
    Then it is accepted
    And agent 1001 is NOT_READY in the app and in Finesse

  Scenario: The connector stops wrong passwords before Finesse locks the agent out
    When agent 1002 tries to log in through the app with:
      | password | mode |
      | wrong-1  | desk |
    And agent 1002 tries to log in through the app with:
      | password | mode |
      | wrong-2  | desk |
    And agent 1002 tries to log in through the app with:
      | password | mode |
      | wrong-3  | desk |
    And agent 1002 tries to log in through the app with:
      | password | mode |
      | password | desk |
    Then it is refused with 429 too_many_attempts
    And Finesse accepts agent 1002's password
    And the connector holds 0 sessions
